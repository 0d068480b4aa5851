// pmap's command template: the COMMAND [ARG...] a user wrote, compiled once
// into literal and replacement pieces so that building each job's argv is a
// single pass with no re-scanning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "substitution.hpp"

namespace pmap {

struct template_options {
    std::string replace = "{}";          // -I STR: the string that stands for the whole item
    bool shell = false;                  // -s: the arguments form one script run by /bin/sh -c
    bool context = false;                // -X: a word holding {} repeats once per value
    bool plus = false;                   // --plus: GNU parallel's extra replacement strings
    bool names = false;                  // --header: {NAME} names a column (bind_names())
    unsigned slots = 1;                  // -j: the width of {0%}
    // --rpl 'TAG EXPR': TAG (tried before the built-in strings) becomes EXPR
    // applied to the value; a TAG of the form {X} also gives {NX} for value N.
    std::vector<std::pair<std::string, std::string>> rpl;
};

// Replacement strings (GNU parallel's names and meanings) over a job's values
// (one a source, or a --colsep column, for each argument the job holds):
//   {}  every value             {.}  without extension      {/}  basename
//   {//} dirname                {/.} basename without ext.  {#}  job number  {%} slot
//   {N} {N.} {N/} {N//} {N/.}   value N alone (1-based; empty when missing)
//   --plus: {+/} {+.} {+..} {+...} {..} {...} {/..} {/...} {##} {0#} {0%}
//           {:N} {:N:M} {#RE} {##RE} {%RE} {%%RE} {/RE/S} {//RE/S} {/#RE/S} {/%RE/S} {:-TEXT}
//   {= EXPR =} and --rpl tags: the substitution subset (substitution.hpp).
// Where {} stands for several values, as GNU parallel's shell splits its
// words: each value is an argument of its own (the text around {} sticks to
// the first and the last); with -X (context) the whole word repeats once per
// value.  With no replacement string at all ({#} and {%} count, as in GNU
// parallel) the values are appended as the last arguments.
class command_template {
public:
    // Throws std::invalid_argument for an empty command, an empty -I string,
    // or an expression outside the substitution subset.
    explicit command_template(std::vector<std::string> args, template_options opts = {});

    // --header: {NAME} is the value in the position of NAME; other {NAME}s stay literal.
    void bind_names(const std::vector<std::string>& names);

    // True when some replacement derives from the values ({}, {.}, {N}, ...);
    // {#} and {%} do not count.
    bool uses_item() const noexcept { return uses_item_; }
    // True when any replacement string is present, {#} and {%} included; when
    // false, expand() appends the values.
    bool has_replacement() const noexcept { return has_replacement_; }
    bool shell() const noexcept { return shell_; }
    // {##} or {0#}: the number of jobs must be known before the first one.
    bool uses_total() const noexcept { return uses_total_; }

    // The argv of job number seq (1-based) running in slot (1..N) on these
    // values; total is the number of jobs ({##}), 0 when unknown.
    // Shell mode returns {SHELL, "-c", script} with every value shell-quoted.
    std::vector<std::string> expand(std::span<const std::string_view> values, std::size_t seq, unsigned slot,
                                     std::size_t total = 0) const;

    // Argument packing (-m, -X, --max-chars): bytes of argv (strings, NULs,
    // pointers) with no value, and at most what one value of len bytes adds.
    std::size_t base_cost() const noexcept { return base_cost_; }
    std::size_t value_cost(std::size_t len) const noexcept {
        std::size_t l = shell_ ? 4 * len + 3 : len + 1;   // '\'' per quote at worst
        return fixed_per_value_ + l * parts_per_value_;
    }

    enum class part_kind : std::uint8_t {
        literal, item, noext, basename, dirname, basename_noext, seq, slot, total, seq0, slot0, transform, named
    };
    struct part {
        part_kind kind = part_kind::literal;
        std::uint32_t column = 0;  // 0: every value; N: value N
        std::string text;          // literal text; the NAME of {NAME}
        std::uint32_t transform = 0;   // index into transforms_
    };
    // One argument (argv mode) or one token of the script (shell mode: blank runs
    // are literal tokens of their own, so words can repeat per value).
    struct word {
        std::vector<part> parts;
        bool per_item = false;     // holds a part over every value
        std::size_t literal_size = 0;
    };
    const std::vector<word>& compiled() const noexcept { return words_; }

private:
    struct job_view;
    void render(const word& w, const job_view& j, const std::string_view* one, std::vector<std::string>* argv,
                std::string* script) const;
    void value_of(const part& p, std::string_view v, std::string& out) const;
    void finish();

    std::vector<word> words_;
    std::vector<substitution> transforms_;
    unsigned slot_digits_ = 1;
    bool shell_ = false;
    bool context_ = false;
    bool uses_item_ = false;
    bool has_replacement_ = false;
    bool uses_total_ = false;
    std::size_t base_cost_ = 0;
    std::size_t fixed_per_value_ = 0;
    std::size_t parts_per_value_ = 0;
};

// The value of each replacement, as GNU parallel computes it.
std::string_view path_noext(std::string_view s);    // {.}: s/\.[^\/.]*$//
std::string_view path_basename(std::string_view s); // {/}: s/.*\///
std::string_view path_dirname(std::string_view s);  // {//}: Perl File::Basename::dirname, "." when none

// Linux refuses one argument of MAX_ARG_STRLEN (131072) bytes or more, NUL
// included: the index of the first such argument, if any.
inline constexpr std::size_t max_arg_strlen = 131072;
std::optional<std::size_t> too_long_argument(const std::vector<std::string>& argv);

}  // namespace pmap
