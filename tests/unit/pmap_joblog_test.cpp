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

void spit(const std::string& path, const std::string& text) {
    auto fd = conc::open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
    conc::write_all(fd.get(), text);
}

}  // namespace

Test(joblog, new_log_has_the_header_and_one_row_per_job) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(1, 1, 1700000000.5, 0.25, 0, 0, "echo a");
        w.write(2, 2, 1700000001.0004, 12.3456, 3, 0, "false 'x y'");
        w.write(3, 1, 1700000002, 1, -1, 15, "sleep 9");
    }
    cr_assert_eq(slurp(path), "Seq\tSlot\tStarttime\tJobRuntime\tExitval\tSignal\tCommand\n"
                              "1\t1\t1700000000.500\t0.250\t0\t0\techo a\n"
                              "2\t2\t1700000001.000\t12.346\t3\t0\tfalse 'x y'\n"
                              "3\t1\t1700000002.000\t1.000\t-1\t15\tsleep 9\n");
}

Test(joblog, truncate_mode_replaces_an_old_log) {
    std::string path = temp_dir() + "/log";
    spit(path, "old junk\n");
    { joblog_writer w(path, joblog_writer::mode::truncate); }
    cr_assert_eq(slurp(path), std::string(joblog_header));
}

Test(joblog, command_field_escapes_tab_newline_and_backslash) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(1, 1, 0, 0, 0, 0, "printf 'a\tb\nc\\d\r'");
    }
    std::string text = slurp(path);
    std::string row = text.substr(joblog_header.size());
    cr_assert_eq(row, "1\t1\t0.000\t0.000\t0\t0\tprintf 'a\\tb\\nc\\\\d\\r'\n");
    cr_assert_eq(joblog_escape("plain"), "plain");
}

Test(joblog, append_mode_keeps_rows_and_writes_no_second_header) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        w.write(1, 1, 0, 0, 0, 0, "a");
    }
    {
        joblog_writer w(path, joblog_writer::mode::append);
        w.write(2, 1, 0, 0, 1, 0, "b");
    }
    cr_assert_eq(slurp(path), std::string(joblog_header) + "1\t1\t0.000\t0.000\t0\t0\ta\n" +
                                  "2\t1\t0.000\t0.000\t1\t0\tb\n");
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
    spit(path, std::string(joblog_header) + "1\t1\t0.000\t0.000\t0\t0\ta\n2\t1\t0.0");
    {
        joblog_writer w(path, joblog_writer::mode::append);
        w.write(3, 1, 0, 0, 0, 0, "c");
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
        w.write(1, 1, 0, 0, 0, 0, "true");
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
        w.write(3, 1, 0, 0, 0, 0, "ok");
        w.write(1, 2, 0, 0, 2, 0, "exit 2");
        w.write(2, 1, 0, 0, 0, 9, "killed");
        w.write(5, 1, 0, 0, 0, 0, "ok");
        w.write(4, 2, 0, 0, 1, 0, "failed then rerun");
        w.write(4, 2, 0, 0, 0, 0, "failed then rerun");
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
    spit(path, std::string(joblog_header) + "x\t1\t0\t0\t0\t0\tc\n\n7\t1\t0\t0\t0\t0\tc\n0\t1\t0\t0\t0\t0\tc\n3\t1\n");
    auto st = read_joblog(path);
    cr_assert_eq(st.bad_lines, 3u);
    cr_assert_eq(st.succeeded.size(), 1u);
    cr_assert(st.succeeded.contains(7));
}

Test(joblog, large_log_reads_into_compact_runs) {
    std::string path = temp_dir() + "/log";
    {
        joblog_writer w(path, joblog_writer::mode::truncate);
        for (std::uint64_t s = 1; s <= 100000; ++s) w.write(s, 1, 0, 0, s == 50000 ? 1 : 0, 0, "true");
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
        for (int i = 1; i <= 300; ++i) w.write(pid == 0 ? 1000 + i : i, 1, 0, 0, 0, 0, cmd);
    }
    if (pid == 0) _exit(0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    auto st = read_joblog(path);
    cr_assert_eq(st.bad_lines, 0u);
    cr_assert_eq(st.succeeded.size(), 600u);
}
