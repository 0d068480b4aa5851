// pmap --results, --files, --tagstring/--ctag and --progress/--eta texts,
// beside what GNU parallel 20221122 makes for the same jobs.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../../tools/pmap/results.hpp"
#include "../../tools/pmap/tag.hpp"
#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "progress.hpp"

using namespace pmap;
using namespace std::string_literals;

namespace {

std::string temp_dir() {
    char dir[] = "/tmp/pmap_results_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

std::string slurp(const std::string& path) {
    auto fd = conc::open_file(path, O_RDONLY);
    return conc::read_all(fd.get());
}

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Test(results, values_are_escaped_as_gnu_parallel_escapes_them) {
    // parallel --results r echo ::: b/c 'a\b': r/1/b\_c, r/1/a\\b
    cr_assert_eq(results_escape("b/c"), "b\\_c");
    cr_assert_eq(results_escape("a\\b"), "a\\\\b");
    cr_assert_eq(results_escape("a\tb\0c"s), "a\\tb\\0c");
    cr_assert_eq(results_escape("x y"), "x y");
}

Test(results, subdir_names_each_source_and_value) {
    cr_assert_eq(results_subdir({{"a"}}), "1/a");
    // parallel --results r echo ::: a b ::: c  ->  r/1/a/2/c
    cr_assert_eq(results_subdir({{"a", "c"}}), "1/a/2/c");
    // parallel -n2 --results r echo ::: a b  ->  r/1/a/1/b (one pair per argument)
    cr_assert_eq(results_subdir({{"a"}, {"b"}}), "1/a/1/b");
}

Test(results, header_names_replace_numbers_and_sort_as_gnu_parallel_sorts_them) {
    // parallel --header : --results foo echo {a} {b} ::: a I II ::: b III IIII  ->  foo/a/II/b/III
    cr_assert_eq(results_subdir({{"II", "III"}}, {"a", "b"}), "a/II/b/III");
    cr_assert_eq(results_subdir({{"x", "y"}}, {"b", "a"}), "a/y/b/x");
    cr_assert_eq(results_subdir({{"p", "q", "r"}}, {"11a", "1b", "1a"}), "1a/r/1b/q/11a/p");
    cr_assert_eq(results_subdir({{"p", "q"}}, {"name", ""}), "name/p/2/q");   // unnamed: its number; "name" is 0 to Perl
}

Test(results, json_strings_are_escaped_as_gnu_parallel_escapes_them) {
    cr_assert_eq(json_string("a"), "\"a\"");
    cr_assert_eq(json_string("q\"b\\s"), "\"q\\\"b\\\\s\"");
    cr_assert_eq(json_string(std::string("t\tz\n\0", 5)), "\"t\\u0009z\\u000a\\u0000\"");
    cr_assert_eq(json_string("\xc3\xa9/"), "\"\xc3\xa9/\"");   // UTF-8 and / as they are
}

Test(results, csv_fields_are_quoted_as_gnu_parallel_quotes_them) {
    cr_assert_eq(csv_field("a", ','), "a");
    cr_assert_eq(csv_field("b,c", ','), "\"b,c\"");
    cr_assert_eq(csv_field("b,c", '\t'), "b,c");
    cr_assert_eq(csv_field("x y", '\t'), "\"x y\"");
    cr_assert_eq(csv_field("out a\n", ','), "\"out a\n\"");
    cr_assert_eq(csv_field("say \"hi\"", ','), "\"say \"\"hi\"\"\"");
    cr_assert_eq(csv_field("", ','), "");
    cr_assert_eq(csv_line({"1", ":", "echo a", "", "a b"}, ','), "1,:,\"echo a\",,\"a b\"\n");
}

Test(results, tree_holds_seq_stdout_and_stderr_per_job) {
    std::string dir = temp_dir() + "/r";
    results r(dir, false, false, false);
    cr_assert_eq(r.layout(), results::kind::tree);
    auto f = r.open_job(7, {{"b/c"}, {"d"}}, "");
    cr_assert_eq(f.stdout_path, dir + "/1/b\\_c/1/d/stdout");
    conc::write_all(f.out.get(), "out\n");
    conc::write_all(f.err.get(), "err\n");
    cr_assert_eq(slurp(dir + "/1/b\\_c/1/d/seq"), "7");   // GNU: no newline
    cr_assert_eq(slurp(dir + "/1/b\\_c/1/d/stdout"), "out\n");
    cr_assert_eq(slurp(dir + "/1/b\\_c/1/d/stderr"), "err\n");
    // The same values again (--resume, a rerun): the files start afresh.
    auto g = r.open_job(8, {{"b/c"}, {"d"}}, "");
    cr_assert_eq(slurp(dir + "/1/b\\_c/1/d/stdout"), "");
    cr_assert_eq(slurp(dir + "/1/b\\_c/1/d/seq"), "8");
}

Test(results, a_named_spec_writes_name_name_err_and_name_seq_or_a_directory) {
    std::string dir = temp_dir();
    results r(dir + "/my_{}", false, true, false);
    cr_assert_eq(r.layout(), results::kind::named);
    auto f = r.open_job(1, {{"foo"}}, dir + "/sub/my_foo");
    cr_assert_eq(f.stdout_path, dir + "/sub/my_foo");
    cr_assert_eq(slurp(dir + "/sub/my_foo.seq"), "1");
    cr_assert_eq(slurp(dir + "/sub/my_foo.err"), "");
    auto g = r.open_job(2, {{"bar"}}, dir + "/my_bar/");
    cr_assert_eq(g.stdout_path, dir + "/my_bar/stdout");
    cr_assert(is_dir(dir + "/my_bar"));
    cr_assert_eq(slurp(dir + "/my_bar/seq"), "2");
}

Test(results, files_alone_makes_a_par_file_in_tmpdir_and_drops_stderr) {
    std::string dir = temp_dir();
    setenv("TMPDIR", dir.c_str(), 1);
    results r("", true, false, false);
    auto f = r.open_job(1, {{"a"}}, "");
    unsetenv("TMPDIR");
    cr_assert(f.stdout_path.starts_with(dir + "/par"), "%s", f.stdout_path.c_str());
    cr_assert(f.stdout_path.ends_with(".par"));
    cr_assert_not(f.err);
}

Test(results, a_csv_table_has_gnu_parallels_header_and_rows_in_order_with_k) {
    std::string path = temp_dir() + "/x.csv";
    results r(path, false, false, true);
    cr_assert(r.table());
    cr_assert_not(r.table_on_stdout());
    job_values v2{{"b,c"}}, v1{{"a"}};
    // Job 2 ends first: held until job 1's row.
    std::string t = r.add_row({2, 1796053472.303, 0.043, 8, 0, 0, "echo out 'b,c'", &v2, "out b,c\n", ""});
    cr_assert_eq(t, "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr\n");
    r.write_table(t);
    t = r.add_row({1, 1796053472.235, 0.001, 6, 0, 0, "echo out a", &v1, "out a\n", "err a\n"});
    r.write_table(t);
    // As GNU parallel 20221122 wrote it for the same jobs.
    cr_assert_eq(slurp(path), "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr\n"
                              "1,:,1796053472.235,0.001,0,6,0,0,\"echo out a\",a,\"out a\n\",\"err a\n\"\n"
                              "2,:,1796053472.303,0.043,0,8,0,0,\"echo out 'b,c'\",\"b,c\",\"out b,c\n\",\n");
    results tsv("-.tsv", false, false, false);
    cr_assert(tsv.table_on_stdout());
    job_values two{{"a", "c d"}};
    cr_assert_eq(tsv.add_row({1, 1796053473.168, 0.062, 6, 0, 0, "echo a 'c d'", &two, "a c d\n", ""}),
                 "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tV1\tV2\tStdout\tStderr\n"
                 "1\t:\t1796053473.168\t0.062\t0\t6\t0\t0\t\"echo a 'c d'\"\ta\t\"c d\"\t\"a c d\n\"\t\n");
}

Test(results, a_skipped_seq_lets_later_rows_out_with_k) {
    results r(temp_dir() + "/x.tsv", false, false, true);
    job_values v{{"b"}};
    std::string t = r.add_row({2, 0, 0, 0, 0, 0, "echo b", &v, "", ""});
    cr_assert(t.find("\n2\t") == std::string::npos);
    cr_assert(r.skip(1).starts_with("2\t:\t"));
}

Test(results, make_directories_names_what_it_could_not_make) {
    std::string dir = temp_dir();
    conc::write_all(conc::open_file(dir + "/file", O_WRONLY | O_CREAT).get(), "x");
    try {
        make_directories(dir + "/file/sub");
        cr_assert_fail("made a directory under a file");
    } catch (const conc::sys_error& e) {
        cr_assert_eq(e.err(), ENOTDIR);
        cr_assert(std::string(e.what()).find(dir + "/file/sub") != std::string::npos, "%s", e.what());
    }
}

Test(tag, colours_are_gnu_parallels_by_seq) {
    // GNU parallel's init_color() list (307 pairs) indexed by seq % 307.
    cr_assert_eq(colour_of(1), "\033[48;5;134;38;5;231m\033[K");
    cr_assert_eq(colour_of(2), "\033[48;5;021;38;5;231m\033[K");
    cr_assert_eq(colour_of(0), "\033[48;5;185;38;5;000m\033[K");
    cr_assert_eq(colour_of(3), "\033[48;5;243;38;5;231m\033[K");
    cr_assert_eq(colour_of(100), "\033[48;5;028;38;5;231m\033[K");
    cr_assert_eq(colour_of(200), "\033[48;5;183;38;5;231m\033[K");
    cr_assert_eq(colour_of(399), "\033[48;5;254;38;5;000m\033[K");
    cr_assert_eq(colour_of(400), "\033[48;5;209;38;5;231m\033[K");
    cr_assert_eq(colour_of(401), "\033[48;5;084;38;5;000m\033[K");
}

Test(tag, tagstring_expands_replacement_strings_once_per_job) {
    string_template t("{#}-{}-{.}", template_options{});
    std::vector<std::string_view> one{"a.txt"};
    cr_assert_eq(t.expand(one, 1, 1), "1-a.txt-a");
    string_template all("{}", template_options{});
    std::vector<std::string_view> two{"a b", "c"};
    cr_assert_eq(all.expand(two, 1, 1), "a b c");
    string_template plain("X", template_options{});
    cr_assert_not(plain.has_replacement());
    cr_assert_eq(plain.expand(two, 1, 1), "X");
    string_template second("{2}", template_options{});   // the job's second value (source or column)
    std::vector<std::string_view> rec{"a", "b"};
    cr_assert_eq(second.expand(rec, 1, 1), "b");
}

Test(tag, tagstring_is_unquoted_as_gnu_parallel_does) {
    cr_assert_eq(unquote_printf("a\\tb\\nc\\rd"), "a\tb\nc\rd");
    cr_assert_eq(unquote_printf("\\101x\\0y"), "Ax\0y"s);
    cr_assert_eq(unquote_printf("plain\\"), "plain\\");
}

Test(progress, gnu_progress_lines_for_one_computer) {
    cr_assert_eq(cli::gnu_progress_header(2, 4), "\nComputers / CPU cores / Max jobs to run\n1:local / 2 / 4\n\n"
                                                 "Computer:jobs running/jobs completed/%of started jobs/"
                                                 "Average seconds to complete\n");
    cr_assert_eq(cli::render_gnu_progress(2, 0, 2, 0), "local:2/0/100%/0.0s ");
    cr_assert_eq(cli::render_gnu_progress(1, 2, 3, 2), "local:1/2/100%/1.0s ");
    cr_assert_eq(cli::render_gnu_progress(0, 3, 3, 2), "local:0/3/100%/0.7s ");
    cr_assert_eq(cli::render_gnu_progress(0, 0, 0, 0), "");
}

Test(progress, gnu_eta_estimates_from_whole_seconds_with_gnus_smoothing) {
    cli::gnu_eta e;
    cr_assert_eq(e.text(3, 0, 0), "ETA: 0s Left: 3 AVG: 0.00s  ");
    cr_assert_eq(e.text(10, 1, 5), "ETA: 0s Left: 9 AVG: 0.00s  ");   // the first completion starts the clock
    cr_assert_eq(e.text(10, 5, 9), "ETA: 4s Left: 5 AVG: 0.80s  ");
}

Test(progress, gnu_eta_keeps_the_last_estimate_when_it_rises_by_less_than_a_tenth) {
    // GNU parallel's compute_eta() run in Perl on the same numbers gave these four lines.
    cli::gnu_eta e;
    cr_assert_eq(e.text(100, 1, 1000), "ETA: 0s Left: 99 AVG: 0.00s  ");
    cr_assert_eq(e.text(100, 10, 1010), "ETA: 90s Left: 90 AVG: 1.00s  ");
    cr_assert_eq(e.text(100, 20, 1021), "ETA: 80s Left: 80 AVG: 1.05s  ");
    cr_assert_eq(e.text(100, 21, 1030), "ETA: 80s Left: 79 AVG: 1.43s  ");   // 86 is < 10% up: 80 kept
}
