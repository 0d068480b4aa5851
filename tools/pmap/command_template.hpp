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
#include <vector>

namespace pmap {

struct template_options {
    std::string replace = "{}";          // -I STR: the string that stands for the whole item
    bool shell = false;                  // -s: the arguments form one script run by /bin/sh -c
    // --colsep SEP as typed: a literal (not regex) column separator in which
    // \t, \n, \0 and \\ stand for a tab, a newline, a NUL and a backslash.
    std::optional<std::string> colsep;
};

// Replacement strings (GNU parallel's names and meanings):
//   {}  the item (or -I STR)      {.}  without extension      {/}  basename
//   {//} dirname                  {/.} basename without ext.  {#}  job number  {%} slot
//   with --colsep: {N} {N.} {N/} {N//} {N/.}  column N (1-based; empty when missing),
//   without the spaces and tabs around it (GNU parallel: --colsep implies --trim rl)
// An argument holding an item replacement is repeated once per item of the job
// (-n: GNU parallel -X "context replace").  With no replacement string at all
// ({#} and {%} count, as in GNU parallel) the items are appended as the last
// arguments; with --colsep, each column (trimmed) is an argument of its own.
class command_template {
public:
    // Throws std::invalid_argument for an empty command, an empty -I string or
    // an empty --colsep.
    explicit command_template(std::vector<std::string> args, template_options opts = {});

    // True when some replacement derives from the item ({}, {.}, {N}, ...);
    // {#} and {%} do not count.
    bool uses_item() const noexcept { return uses_item_; }
    // True when any replacement string is present, {#} and {%} included; when
    // false, expand() appends the items.
    bool has_replacement() const noexcept { return has_replacement_; }
    bool shell() const noexcept { return shell_; }

    // The argv of job number seq (1-based) running in slot (1..N) on these items.
    // Shell mode returns {"/bin/sh", "-c", script} with every value shell-quoted.
    std::vector<std::string> expand(std::span<const std::string_view> items, std::size_t seq,
                                    unsigned slot) const;

    enum class part_kind : std::uint8_t { literal, item, noext, basename, dirname, basename_noext, seq, slot };
    struct part {
        part_kind kind = part_kind::literal;
        std::uint32_t column = 0;  // 0: the whole item; N: column N (--colsep)
        std::string text;          // literal text
    };
    // One argument (argv mode) or one token of the script (shell mode: blank runs
    // are literal tokens of their own, so words can repeat per item).
    struct word {
        std::vector<part> parts;
        bool per_item = false;
        std::size_t literal_size = 0;
    };
    const std::vector<word>& compiled() const noexcept { return words_; }

private:
    void render(const word& w, std::string_view item, std::size_t seq, unsigned slot, std::string& out) const;

    std::vector<word> words_;
    std::string colsep_;
    bool has_colsep_ = false;
    bool shell_ = false;
    bool uses_item_ = false;
    bool has_replacement_ = false;
};

// The value of each replacement, as GNU parallel computes it.
std::string_view path_noext(std::string_view s);    // {.}: s/\.[^\/.]*$//
std::string_view path_basename(std::string_view s); // {/}: s/.*\///
std::string_view path_dirname(std::string_view s);  // {//}: Perl File::Basename::dirname, "." when none
std::string_view record_column(std::string_view record, std::string_view sep, std::size_t n);  // 1-based, as is
// --colsep's trim: the spaces and tabs at both ends of s removed.
std::string_view trim_blanks(std::string_view s);
// Every column of record, each trimmed (one column when sep is empty).
std::vector<std::string_view> record_columns(std::string_view record, std::string_view sep);

// Linux refuses one argument of MAX_ARG_STRLEN (131072) bytes or more, NUL
// included: the index of the first such argument, if any.
inline constexpr std::size_t max_arg_strlen = 131072;
std::optional<std::size_t> too_long_argument(const std::vector<std::string>& argv);

}  // namespace pmap
