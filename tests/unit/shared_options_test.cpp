// cli::shared_options: -j, -0, -d, --timeout, --bar, --dry-run, -v parsed one way for every tool.
#include <criterion/criterion.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include <chrono>
#include <string>

#include "conc/process.hpp"
#include "shared_options.hpp"
#include "units.hpp"

using namespace cli;
using namespace std::chrono_literals;

namespace {

template <class F>
std::string bad_value_of(F f) {
    try {
        f();
    } catch (const bad_value& e) {
        return e.what();
    }
    return "";
}

}  // namespace

Test(shared_options, jobs_plain_numbers) {
    cr_assert_eq(parse_jobs("1", 8), 1u);
    cr_assert_eq(parse_jobs("4", 8), 4u);
    cr_assert_eq(parse_jobs("64", 2), 64u);
}

Test(shared_options, jobs_percent_of_the_cpus_at_least_one) {
    cr_assert_eq(parse_jobs("50%", 8), 4u);
    cr_assert_eq(parse_jobs("100%", 8), 8u);
    cr_assert_eq(parse_jobs("200%", 3), 6u);
    cr_assert_eq(parse_jobs("10%", 4), 1u);
    cr_assert_eq(parse_jobs("1%", 1), 1u);
}

// GNU parallel: -j P% is ncpus * P / 100 rounded up, and P may have decimals.
Test(shared_options, jobs_percent_rounds_up_and_takes_decimals) {
    cr_assert_eq(parse_jobs("75%", 2), 2u);
    cr_assert_eq(parse_jobs("10.5%", 2), 1u);
    cr_assert_eq(parse_jobs("150%", 2), 3u);
    cr_assert_eq(parse_jobs("12.5%", 8), 1u);
    cr_assert_eq(parse_jobs("37.5%", 8), 3u);
    cr_assert_eq(parse_jobs("0.5%", 1000), 5u);
}

Test(shared_options, jobs_file_holds_the_value) {
    char path[] = "/tmp/conc_jobs_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, " 3\n", 3), 3);
    close(fd);
    cr_assert(read_jobs_file(path, 4) == 3u);
    shared_options s;
    cr_assert(s.take('P', path));
    cr_assert_eq(s.jobs, 3u);
    cr_assert(s.jobs_given);
    cr_assert_eq(s.jobs_file, path);
    FILE* f = fopen(path, "w");
    fputs("+1", f);
    fclose(f);
    cr_assert(read_jobs_file(path, 4) == 5u);
    f = fopen(path, "w");
    fputs("lots", f);
    fclose(f);
    cr_assert(bad_value_of([&] { read_jobs_file(path, 4); }).find("holds no job count") != std::string::npos);
    unlink(path);
    cr_assert(!read_jobs_file(path, 4));
    cr_assert(!read_jobs_file("/tmp", 4));   // a directory is no file
    s.jobs_file.clear();
    cr_assert(s.take('j', "2"));
    cr_assert_eq(s.jobs, 2u);
    cr_assert(s.jobs_file.empty());
}

Test(shared_options, jobs_relative_to_the_cpus_at_least_one) {
    cr_assert_eq(parse_jobs("+2", 4), 6u);
    cr_assert_eq(parse_jobs("+0", 4), 4u);
    cr_assert_eq(parse_jobs("-1", 4), 3u);
    cr_assert_eq(parse_jobs("-4", 4), 1u);
    cr_assert_eq(parse_jobs("-100", 4), 1u);
}

Test(shared_options, jobs_zero_is_as_many_as_the_fd_limit_allows) {
    unsigned n = parse_jobs("0", 2);
    cr_assert_eq(n, as_many_jobs_as_possible());
    cr_assert_geq(n, 1u);
    rlimit rl{};
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY) cr_assert_leq(2 * rlim_t(n), rl.rlim_cur);
}

Test(shared_options, jobs_rejects_bad_values) {
    for (const char* v : {"", "x", "1.5", "0%", "%", "x%", "+", "-", "+x", "--1", "+-1", " 4", "4 ", "1000001",
                          "100001%", "0.0%", ".5%", "5.%", "1.2.3%", "-5%", "1e2%"})
        cr_assert_neq(bad_value_of([&] { parse_jobs(v, 4); }), "", "accepted '%s'", v);
}

Test(shared_options, online_cpus_is_at_least_one) { cr_assert_geq(conc::online_cpus(), 1u); }

Test(shared_options, separators_understand_the_escapes) {
    cr_assert_eq(parse_separator("\\t"), "\t");
    cr_assert_eq(parse_separator("\\n"), "\n");
    cr_assert_eq(parse_separator("\\\\"), "\\");
    cr_assert_eq(parse_separator("\\0"), std::string(1, '\0'));
    cr_assert_eq(parse_separator(", "), ", ");
    cr_assert_eq(parse_separator("a\\tb"), "a\tb");
    cr_assert_eq(parse_separator("\\x"), "\\x");
    cr_assert_eq(parse_separator("\\"), "\\");
    cr_assert_eq(parse_separator("\t"), "\t");
}

Test(shared_options, delimiters) {
    cr_assert_eq(parse_delimiter(","), ',');
    cr_assert_eq(parse_delimiter("\\n"), '\n');
    cr_assert_eq(parse_delimiter("\\t"), '\t');
    cr_assert_eq(parse_delimiter("\\0"), '\0');
    cr_assert_eq(parse_delimiter("\\\\"), '\\');
    cr_assert_eq(parse_delimiter("\\"), '\\');
    for (const char* v : {"", "ab", "\\x", "\\n\\n"}) {
        std::string e = bad_value_of([&] { parse_delimiter(v); });
        cr_assert(e.starts_with("invalid delimiter '" + std::string(v) + "'"), "'%s': '%s'", v, e.c_str());
    }
}

Test(shared_options, take_sets_the_shared_fields) {
    shared_options s;
    cr_assert_eq(s.jobs, conc::online_cpus());
    cr_assert(s.take('j', "3"));
    cr_assert_eq(s.jobs, 3u);
    cr_assert(s.take('0', ""));
    cr_assert_eq(s.delimiter, '\0');
    cr_assert(s.take('d', "\\t"));
    cr_assert_eq(s.delimiter, '\t');
    cr_assert(s.take(opt_shared_timeout, "1.5s"));
    cr_assert(s.timeout && *s.timeout == 1500ms);
    cr_assert(s.take(opt_shared_bar, ""));
    cr_assert(s.bar && !s.bar_forced);
    cr_assert(s.take(opt_shared_bar, "always"));
    cr_assert(s.bar && s.bar_forced);
    cr_assert(s.take(opt_shared_dry_run, ""));
    cr_assert(s.dry_run);
    cr_assert(s.take('v', ""));
    cr_assert(s.verbose);
}

Test(shared_options, take_leaves_the_tools_own_options) {
    shared_options s;
    for (int key : {int('k'), int('n'), int('a'), 256, 257, 300})
        cr_assert_not(s.take(key, "1"), "took key %d", key);
}

Test(shared_options, take_names_the_option_in_a_bad_value) {
    shared_options s;
    auto message = [&](int key, const char* v) -> std::string {
        try {
            s.take(key, v);
        } catch (const usage_problem& e) {
            return e.what();
        }
        return "";
    };
    cr_assert(message('j', "x").starts_with("-j: "));
    cr_assert(message('P', "/no/such/file").starts_with("-P: "));
    cr_assert(message('P', "/no/such/file").ends_with("(nor a file holding one)"));
    cr_assert(message('d', "ab").starts_with("-d: invalid delimiter 'ab'"));
    cr_assert(message(opt_shared_timeout, "soon").starts_with("--timeout: "));
    cr_assert_eq(message(opt_shared_bar, "never"), "--bar takes no value but 'always'");
}

Test(shared_options, rows_fit_an_option_table) {
    auto rows = shared_option_rows("stop after DUR");
    cr_assert_eq(rows.size(), 8u);
    option_table t("X", "Y", rows);
    char a0[] = "tool", a1[] = "-j+1", a2[] = "--timeout=2s", a3[] = "--bar=always", a4[] = "-v", a5[] = "cmd";
    char* argv[] = {a0, a1, a2, a3, a4, a5, nullptr};
    parsed_args p = t.try_parse(6, argv);
    shared_options s;
    for (auto& [k, v] : p.options) cr_assert(s.take(k, v));
    cr_assert_eq(s.jobs, conc::online_cpus() + 1);
    cr_assert(s.timeout && *s.timeout == 2s);
    cr_assert(s.bar_forced && s.verbose);
    cr_assert_eq(p.operands.size(), 1u);
    cr_assert(t.help_text().find("--timeout=DUR") != std::string::npos);
}

Test(shared_options, rows_can_be_chosen_by_key) {
    auto rows = shared_option_rows("stop", {'v', 'j', opt_shared_timeout});
    cr_assert_eq(rows.size(), 4u);     // -P comes with -j
    cr_assert_eq(rows[0].key, 'j');   // still in --help order
    cr_assert_eq(rows[1].key, 'P');
    cr_assert_eq(rows[2].key, opt_shared_timeout);
    cr_assert_str_eq(rows[2].help, "stop");
    cr_assert_eq(rows[3].key, 'v');
}
