// pmap --results and --files: each job's output saved in files, laid out as
// GNU parallel lays them out, or one CSV/TSV row per job.
//
//   --results DIR          DIR/1/VALUE/stdout, .../stderr, .../seq (the job number)
//                          one "N/VALUE" pair per value of the job: source (or
//                          column) N, its value escaped (\ -> \\, TAB -> \t,
//                          NUL -> \0, / -> \_); -n 2 gives DIR/1/a/1/b
//   --results NAME.csv     one row per job: Seq,Host,Starttime,JobRuntime,Send,
//   --results NAME.tsv     Receive,Exitval,Signal,Command,V1..Vn,Stdout,Stderr
//                          (-.csv, -.tsv: on stdout); a header first
//   --results NAME.json    the same as one JSON object a line (-.json: on stdout)
//   --results STR{}...     a name with replacement strings: stdout in the
//                          name, stderr in NAME.err, the number in NAME.seq;
//                          a name ending in / is a directory as above
//   --files                print the stdout file's name instead of the output
//                          (without --results: a file $TMPDIR/parXXXXXX.par)
// Nothing else of the jobs' output is printed, as in GNU parallel 20221122.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conc/fd.hpp"
#include "conc/reorder.hpp"

namespace pmap {

// A job's values: one list per argument of the job (-n), each holding one
// value per input source (or --colsep column).
using job_values = std::vector<std::vector<std::string>>;

// A value as a directory name, as GNU parallel escapes it.
std::string results_escape(std::string_view value);
// "1/a/2/c": source number and escaped value, for every value of the job.
// names (--header :): source i+1 is called names[i] (when given and not
// empty), and the sources go in GNU parallel's order of their names:
// numerically by leading number, then by bytes ("1a 1b 11a 11b").
std::string results_subdir(const job_values& values, const std::vector<std::string>& names = {});

// One CSV field: quoted ("" for ") when it holds the separator, a quote,
// white space or a NUL, as GNU parallel's combine_ref() does.
std::string csv_field(std::string_view v, char sep);
// The fields joined by sep, with a newline.
std::string csv_line(const std::vector<std::string>& fields, char sep);
// A JSON string: quote and backslash escaped, control bytes as \u00XX (GNU's).
std::string json_string(std::string_view v);

class results {
public:
    enum class kind { none, tree, table, named };
    // spec: --results' value (empty: none); files: --files; named: spec holds a
    // replacement string.  Opens (truncates) a .csv/.tsv file: throws sys_error.
    results(std::string spec, bool files, bool named, bool keep_order);

    kind layout() const noexcept { return kind_; }
    bool table() const noexcept { return kind_ == kind::table; }
    bool files() const noexcept { return files_; }
    bool table_on_stdout() const noexcept { return kind_ == kind::table && !table_fd_; }

    // The files of one job (tree, named, or --files alone).
    struct job_files {
        conc::unique_fd out, err;   // err: invalid when stderr is dropped (--files alone)
        std::string stdout_path;
    };
    // Makes the directories, writes the seq file, opens stdout and stderr
    // (truncated).  expanded_name: the named spec, replaced for this job.
    // Throws sys_error naming the path.
    job_files open_job(std::uint64_t seq, const job_values& values, const std::string& expanded_name) const;

    // A table row for a finished job; returns the text ready to go out now (in
    // seq order with -k: maybe several rows, maybe none; the header before the first).
    struct row {
        std::uint64_t seq;
        double start, runtime;
        std::uint64_t receive;
        int exitval, signal;
        std::string command;
        const job_values* values;
        std::string out, err;
    };
    std::string add_row(const row& r);
    // -k: seq has no row (skipped by --resume).
    std::string skip(std::uint64_t seq);
    // Writes text to the .csv/.tsv file (throws sys_error).
    void write_table(std::string_view text);

private:
    std::string ready(std::uint64_t seq, std::string text);
    template <class Fixed>
    std::string json_row(const row& r, Fixed fixed);

    kind kind_ = kind::none;
    std::string spec_;
    bool files_ = false;
    bool keep_order_ = false;
    char sep_ = ',';
    bool json_ = false;            // NAME.json: one object a line, no header
    conc::unique_fd table_fd_;
    bool header_done_ = false;
    conc::reorder_buffer<std::string> order_;
};

// mkdir -p.  Throws sys_error("create the directory 'PATH'").
void make_directories(const std::string& path);

}  // namespace pmap
