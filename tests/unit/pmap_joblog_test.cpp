// pmap --joblog writing and --resume reading.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../../tools/pmap/joblog.hpp"
#include "conc/error.hpp"
#include "conc/fd.hpp"
#include "messages.hpp"

using namespace pmap;
using namespace std::string_literals;

namespace {

std::string temp_dir() {
    char dir[] = "/tmp/pmap_joblog_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

std::string slurp(const std::string& path) {
    auto fd = conc::open_file(path, O_RDONLY);
    return conc::read_all(fd.get());
}

// A row as the engine makes it: Send 0, Receive 0.
joblog_row row(std::uint64_t seq, double start, double runtime, int exitval, int signal, std::string_view command) {
    return joblog_row{seq, start, runtime, 0, 0, exitval, signal, command};
}

void spit(const std::string& path, const std::string& text) {
    auto fd = conc::open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
    conc::write_all(fd.get(), text);
}

}  // namespace

Test(joblog, new_log_has_the_header_and_one_row_per_job) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(row(1, 1700000000.5, 0.25, 0, 0, "echo a"));
        w.write(row(2, 1700000001.0004, 12.3456, 3, 0, "false 'x y'"));
        w.write(row(3, 1700000002, 1, -1, 15, "sleep 9"));
    }
    // GNU parallel's layout: Host ":", Starttime %.3f, JobRuntime %10.3f, Send, Receive.
    cr_assert_eq(slurp(path), "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
                              "1\t:\t1700000000.500\t     0.250\t0\t0\t0\t0\techo a\n"
                              "2\t:\t1700000001.000\t    12.346\t0\t0\t3\t0\tfalse 'x y'\n"
                              "3\t:\t1700000002.000\t     1.000\t0\t0\t-1\t15\tsleep 9\n");
}

Test(joblog, row_holds_send_and_receive_and_a_long_runtime_unpadded) {
    cr_assert_eq(format_joblog_row({12, 1.5, 1234567.25, 7, 4096, 1, 0, "cat x"}),
                 "12\t:\t1.500\t1234567.250\t7\t4096\t1\t0\tcat x\n");
}

Test(joblog, truncate_mode_replaces_an_old_log) {
    std::string path = temp_dir() + "/log";
    spit(path, "old junk\n");
    { joblog_writer w(path, joblog_writer::mode::truncate); }
    cr_assert_eq(slurp(path), std::string(joblog_header));
}

Test(joblog, command_field_keeps_tabs_and_backslashes_and_writes_newlines_as_nul) {
    // GNU parallel: "Newlines make it hard to parse the joblog": s/\n/\0/g, nothing else.
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(row(1, 0, 0, 0, 0, "printf 'a\tb\nc\\d\r'"));
    }
    std::string text = slurp(path);
    std::string r = text.substr(joblog_header.size());
    cr_assert_eq(r, "1\t:\t0.000\t     0.000\t0\t0\t0\t0\tprintf 'a\tb\0c\\d\r'\n"s);
    cr_assert_eq(joblog_escape("plain"), "plain");
    cr_assert_eq(joblog_escape("a\nb"), "a\0b"s);
}

Test(joblog, append_mode_keeps_rows_and_writes_no_second_header) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(row(1, 0, 0, 0, 0, "a"));
    }
    {
        joblog_writer w(path, joblog_writer::mode::append);
        w.write(row(2, 0, 0, 1, 0, "b"));
    }
    cr_assert_eq(slurp(path), std::string(joblog_header) + "1\t:\t0.000\t     0.000\t0\t0\t0\t0\ta\n" +
                                  "2\t:\t0.000\t     0.000\t0\t0\t1\t0\tb\n");
}

Test(joblog, append_mode_on_a_missing_or_empty_file_writes_the_header) {
    std::string dir = temp_dir();
    { joblog_writer w(dir + "/missing", joblog_writer::mode::append); }
    cr_assert_eq(slurp(dir + "/missing"), std::string(joblog_header));
    spit(dir + "/empty", "");
    { joblog_writer w(dir + "/empty", joblog_writer::mode::append); }
    cr_assert_eq(slurp(dir + "/empty"), std::string(joblog_header));
}

Test(joblog, append_after_a_cut_row_starts_a_new_line) {
    std::string path = temp_dir() + "/log";
    spit(path, std::string(joblog_header) + "1\t:\t0.000\t     0.000\t0\t0\t0\t0\ta\n2\t:\t0.0");
    {
        joblog_writer w(path, joblog_writer::mode::append);
        w.write(row(3, 0, 0, 0, 0, "c"));
    }
    auto st = read_joblog(path);
    cr_assert(st.succeeded.contains(1));
    cr_assert_not(st.succeeded.contains(2));
    cr_assert_not(st.failed.contains(2));
    cr_assert(st.succeeded.contains(3));
    cr_assert_eq(st.bad_lines, 1u);
}

Test(joblog, open_failure_throws_sys_error_naming_the_file) {
    bool threw = false;
    try {
        joblog_writer w("/nonexistent-dir/log", joblog_writer::mode::truncate);
    } catch (const conc::sys_error& e) {
        threw = true;
        cr_assert_eq(e.err(), ENOENT);
        cr_assert(std::string(e.what()).find("'/nonexistent-dir/log'") != std::string::npos, "%s", e.what());
    }
    cr_assert(threw);
}

Test(joblog, every_message_names_the_joblog_and_its_path) {
    // Defect 13: "cannot open the joblog 'PATH': REASON", "cannot write the joblog 'PATH': REASON".
    auto message = [](auto f) -> std::string {
        try {
            f();
        } catch (const conc::sys_error& e) {
            return cli::describe(e);
        }
        return "";
    };
    cr_assert_eq(message([] { joblog_writer w("/nonexistent-dir/log", joblog_writer::mode::truncate); }),
                 "cannot open the joblog '/nonexistent-dir/log': No such file or directory");
    std::string dir = temp_dir();
    cr_assert_eq(message([&] { joblog_writer w(dir, joblog_writer::mode::append); }),
                 "cannot open the joblog '" + dir + "': Is a directory");
    cr_assert_eq(message([&] { read_joblog(dir); }), "cannot open the joblog '" + dir + "': Is a directory");
    if (access("/dev/full", W_OK) == 0) {
        cr_assert_eq(message([] { joblog_writer w("/dev/full", joblog_writer::mode::truncate); }),
                     "cannot write the joblog '/dev/full': No space left on device");
        cr_assert_eq(message([] {
                         joblog_writer w("/dev/full", joblog_writer::mode::append);   // empty: a header, which fails
                     }),
                     "cannot write the joblog '/dev/full': No space left on device");
    }
}

Test(joblog, a_failed_row_write_names_the_joblog) {
    std::string path = temp_dir() + "/log";
    joblog_writer w(path, joblog_writer::mode::truncate);
    // Swap the log's fd for a read-only one, so the next row cannot be written.
    auto ro = conc::open_file(path, O_RDONLY);
    cr_assert_geq(dup2(ro.get(), w.fd()), 0);
    try {
        w.write(row(1, 0, 0, 0, 0, "true"));
        cr_assert_fail("the write succeeded");
    } catch (const conc::sys_error& e) {
        cr_assert_eq(cli::describe(e), "cannot write the joblog '" + path + "': Bad file descriptor");
    }
}

Test(joblog, missing_log_is_nothing_to_skip) {
    auto st = read_joblog(temp_dir() + "/none");
    cr_assert(st.succeeded.empty());
    cr_assert(st.failed.empty());
    cr_assert_eq(st.bad_lines, 0u);
    cr_assert_not(st.skip(1, false));
}

Test(joblog, unreadable_log_throws) {
    bool threw = false;
    try {
        read_joblog(temp_dir());  // a directory: open works, read fails with EISDIR
    } catch (const conc::sys_error& e) {
        threw = true;
        cr_assert_eq(e.err(), EISDIR);
    }
    cr_assert(threw);
}

Test(joblog, read_sorts_seqs_into_succeeded_and_failed) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(row(3, 0, 0, 0, 0, "ok"));
        w.write(row(1, 0, 0, 2, 0, "exit 2"));
        w.write(row(2, 0, 0, 0, 9, "killed"));
        w.write(row(5, 0, 0, 0, 0, "ok"));
        w.write(row(4, 0, 0, 1, 0, "failed then rerun"));
        w.write(row(4, 0, 0, 0, 0, "failed then rerun"));
    }
    auto st = read_joblog(path);
    cr_assert_eq(st.succeeded.size(), 3u);
    cr_assert(st.succeeded.contains(3) && st.succeeded.contains(4) && st.succeeded.contains(5));
    cr_assert_eq(st.failed.size(), 2u);
    cr_assert(st.failed.contains(1) && st.failed.contains(2));
    // --resume: skip everything logged; --resume-failed: rerun 1 and 2.
    for (std::uint64_t s = 1; s <= 5; ++s) cr_assert(st.skip(s, false));
    cr_assert_not(st.skip(6, false));
    cr_assert_not(st.skip(1, true));
    cr_assert_not(st.skip(2, true));
    cr_assert(st.skip(3, true));
    cr_assert_not(st.skip(6, true));
}

Test(joblog, reads_gnu_parallel_joblogs_by_column_name) {
    std::string path = temp_dir() + "/log";
    spit(path,
         "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
         "1\t:\t1700000000.123\t     0.002\t0\t2\t0\t0\techo 1\n"
         "2\t:\t1700000000.125\t     0.002\t0\t2\t1\t0\tfalse 2\n"
         "3\t:\t1700000000.125\t     0.002\t0\t2\t0\t15\tsleep 3\n");
    auto st = read_joblog(path);
    cr_assert(st.succeeded.contains(1));
    cr_assert(st.failed.contains(2));
    cr_assert(st.failed.contains(3));
    cr_assert_eq(st.bad_lines, 0u);
}

Test(joblog, bad_rows_are_counted_and_skipped) {
    std::string path = temp_dir() + "/log";
    spit(path, std::string(joblog_header) + "x\t:\t0\t0\t0\t0\t0\t0\tc\n\n7\t:\t0\t0\t0\t0\t0\t0\tc\n" +
                   "0\t:\t0\t0\t0\t0\t0\t0\tc\n3\t:\n");
    auto st = read_joblog(path);
    cr_assert_eq(st.bad_lines, 3u);
    cr_assert_eq(st.succeeded.size(), 1u);
    cr_assert(st.succeeded.contains(7));
}

Test(joblog, large_log_reads_into_compact_runs) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        for (std::uint64_t s = 1; s <= 100000; ++s) w.write(row(s, 0, 0, s == 50000 ? 1 : 0, 0, "true"));
    }
    auto st = read_joblog(path);
    cr_assert_eq(st.succeeded.size(), 99999u);
    cr_assert_eq(st.succeeded.runs().size(), 2u);
    cr_assert_eq(st.failed.size(), 1u);
    cr_assert(st.failed.contains(50000));
    cr_assert_not(st.succeeded.contains(50000));
    cr_assert_not(st.succeeded.contains(0));
    cr_assert_not(st.succeeded.contains(100001));
}

Test(joblog, each_row_is_one_write) {
    // Rows from one writer never interleave with another writer's on the same
    // O_APPEND file: each row is one write(2).
    std::string path = temp_dir() + "/log";
    { joblog_writer w(path, joblog_writer::mode::truncate); }
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    {
        joblog_writer w(path, joblog_writer::mode::append);
        std::string cmd(3000, pid == 0 ? 'c' : 'p');
        for (int i = 1; i <= 300; ++i) w.write(row(pid == 0 ? 1000 + i : i, 0, 0, 0, 0, cmd));
    }
    if (pid == 0) _exit(0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    auto st = read_joblog(path);
    cr_assert_eq(st.bad_lines, 0u);
    cr_assert_eq(st.succeeded.size(), 600u);
}

Test(joblog, reads_pmaps_older_seven_column_log_by_its_header) {
    std::string path = temp_dir() + "/log";
    spit(path, "Seq\tSlot\tStarttime\tJobRuntime\tExitval\tSignal\tCommand\n"
               "1\t1\t0.000\t0.000\t0\t0\ta\n2\t1\t0.000\t0.000\t1\t0\tb\n");
    auto st = read_joblog(path, true);
    cr_assert(st.succeeded.contains(1));
    cr_assert(st.failed.contains(2));
    cr_assert_eq(st.failed_commands.size(), 1u);
    cr_assert_eq(st.failed_commands[0].second, "b");
}

Test(joblog, a_gnu_parallel_log_without_header_reads_by_gnus_columns) {
    std::string path = temp_dir() + "/log";
    spit(path, "4\t:\t1796053384.727\t     0.084\t0\t0\t1\t0\texit 1\n"
               "5\t:\t1796053384.727\t     0.084\t0\t0\t0\t0\texit 0\n");
    auto st = read_joblog(path);
    cr_assert(st.failed.contains(4));
    cr_assert(st.succeeded.contains(5));
    cr_assert_eq(st.bad_lines, 0u);
}

Test(joblog, failed_commands_for_retry_failed_are_the_last_rows_of_failed_seqs) {
    // A log GNU parallel 20221122 wrote for: parallel --joblog log 'exit {}' ::: 0 3 0 4
    // (then one more row of seq 4 with a NUL for a newline, and seq 2 rerun and passed).
    std::string path = temp_dir() + "/log";
    spit(path, std::string("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
                           "1\t:\t1796053976.976\t     0.000\t0\t0\t0\t0\texit 0\n"
                           "2\t:\t1796053977.059\t     0.119\t0\t0\t3\t0\texit 3\n"
                           "3\t:\t1796053977.157\t     0.223\t0\t0\t0\t0\texit 0\n"
                           "4\t:\t1796053977.348\t     0.052\t0\t0\t4\t0\texit 4\n"
                           "4\t:\t1796053977.348\t     0.052\t0\t0\t4\t0\techo a\0exit\t4\n"
                           "2\t:\t1796053978.059\t     0.119\t0\t0\t0\t0\texit 0\n"s));
    auto st = read_joblog(path, true);
    cr_assert_eq(st.bad_lines, 0u);
    cr_assert_eq(st.failed_commands.size(), 1u);
    cr_assert_eq(st.failed_commands[0].first, 4u);
    cr_assert_eq(st.failed_commands[0].second, "echo a\nexit\t4");
    cr_assert(read_joblog(path).failed_commands.empty());   // only asked for
}
