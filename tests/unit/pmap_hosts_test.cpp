// pmap -S specs, --sshloginfile, the worker's greeting and messages, and the
// words pmap sends to a remote shell.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "../../tools/pmap/host_pool.hpp"
#include "../../tools/pmap/remote_env.hpp"
#include "../../tools/pmap/hosts.hpp"
#include "../../tools/pmap/remote_host.hpp"
#include "../../tools/pmap/remote_wire.hpp"
#include "options.hpp"

using namespace pmap;

Test(hosts, a_spec_has_slots_user_host_and_port) {
    sshlogin l = parse_sshlogin("4/alice@render1:2222");
    cr_expect_eq(l.slots, 4u);
    cr_expect_eq(l.user, "alice");
    cr_expect_eq(l.host, "render1");
    cr_expect_eq(l.port, "2222");
    cr_expect_eq(l.name, "alice@render1:2222");
    sshlogin plain = parse_sshlogin("server");
    cr_expect_eq(plain.slots, 0u);
    cr_expect(plain.user.empty() && plain.port.empty());
    cr_expect_eq(plain.host, "server");
    cr_expect(parse_sshlogin(":").local());
    cr_expect(parse_sshlogin("2/:").local());
    cr_expect_eq(parse_sshlogin("2/:").slots, 2u);
    sshlogin own = parse_sshlogin("2/ssh -F my config  bob@farm");
    cr_expect(own.ssh == (std::vector<std::string>{"ssh", "-F", "my", "config"}));
    cr_expect_eq(own.host, "farm");
    cr_expect_eq(own.user, "bob");
    cr_expect_eq(own.name, "ssh -F my config  bob@farm");
    cr_expect(parse_sshlogin("ssh -F /etc/x host").ssh == (std::vector<std::string>{"ssh", "-F", "/etc/x"}));
    sshlogin v6 = parse_sshlogin("[::1]:22");
    cr_expect_eq(v6.host, "::1");
    cr_expect_eq(v6.port, "22");
}

Test(hosts, bad_specs_are_usage_problems) {
    for (const char* bad : {"", "0/host", "x/host", "host:0", "host:70000", "host:x", "@host", "-oProxyCommand=x",
                            "h;rm", "h$(id)", "[::1"}) {
        bool refused = false;
        try {
            parse_sshlogin(bad);
        } catch (const cli::usage_problem& e) {
            refused = std::string(e.what()).starts_with("--sshlogin '");
        }
        cr_expect(refused, "'%s' was accepted", bad);
    }
}

Test(hosts, lists_are_comma_separated_and_a_repeated_host_replaces_itself) {
    std::vector<sshlogin> out;
    add_sshlogins("1/a, b ,,c", out);
    add_sshlogins("3/b", out);   // "3/b" is named "b": the same host
    cr_assert_eq(out.size(), 3u);
    cr_expect_eq(out[0].name, "a");
    cr_expect_eq(out[1].name, "b");
    cr_expect_eq(out[1].slots, 3u);
    cr_expect_eq(out[2].name, "c");
}

Test(hosts, a_login_file_has_comments_and_blank_lines) {
    auto l = parse_sshlogin_file("# farm\n2/r1\n\n  r2 # the big one\nr3,4/r4\r\n");
    cr_assert_eq(l.size(), 4u);
    cr_expect_eq(l[0].name, "r1");
    cr_expect_eq(l[1].name, "r2");
    cr_expect_eq(l[3].name, "r4");
    cr_expect_eq(l[3].slots, 4u);
    setenv("HOME", "/home/u", 1);
    cr_expect_eq(sshlogin_file_path(".."), "/home/u/.parallel/sshloginfile");
    cr_expect_eq(sshlogin_file_path("hosts"), "hosts");
}

Test(hosts, a_login_file_is_read_again_only_when_it_changes) {
    char dir[] = "/tmp/pmap_hosts_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    std::string path = std::string(dir) + "/slf";
    std::ofstream(path) << "a\n";
    sshlogin_file f(path);
    auto first = f.changed();
    cr_assert(first.has_value());
    cr_expect_eq(first->size(), 1u);
    cr_expect(!f.changed().has_value());
    std::ofstream(path) << "a\nb\n";
    struct timespec later[2] = {{0, UTIME_OMIT}, {time(nullptr) + 10, 0}};   // a new mtime however fast the test runs
    cr_assert_eq(utimensat(AT_FDCWD, path.c_str(), later, 0), 0);
    auto second = f.changed();
    cr_assert(second.has_value());
    cr_expect_eq(second->size(), 2u);
    unlink(path.c_str());
    cr_expect(!f.changed().has_value(), "a file gone for a moment keeps the hosts");
    rmdir(dir);
}

Test(wire, the_greeting_says_the_cpus_and_refuses_other_versions) {
    std::string g = wire::greeting(8);
    cr_expect(g.ends_with("\n"));
    cr_expect_eq(wire::read_greeting(g), 8u);
    cr_expect_eq(wire::read_greeting("pmap-worker 999 8 0807060504030201"), 0u);
    cr_expect_eq(wire::read_greeting("pmap-worker 1 8 0102030405060708x"), 0u);
    cr_expect(!wire::read_greeting("Welcome to the host").has_value());
}

Test(wire, a_message_survives_its_codec) {
    wire::message m{wire::kind::start, 42, -7, std::string("dir\0x", 5), {"sh", "-c", "echo 'a b'"}, {"A=1", "B="}};
    std::string bytes;
    conc::codec<wire::message>::encode(m, bytes);
    std::string_view in(bytes);
    wire::message back = conc::codec<wire::message>::decode(in);
    cr_expect(in.empty());
    cr_expect(back.kind == wire::kind::start);
    cr_expect_eq(back.id, 42u);
    cr_expect_eq(back.value, -7);
    cr_expect_eq(back.data, m.data);
    cr_expect(back.argv == m.argv);
    cr_expect(back.env == m.env);
}

Test(remote, words_are_single_quoted_for_the_remote_shell) {
    cr_expect_eq(remote_words({"echo", "it's", "$(id)", "a\nb"}), "'echo' 'it'\\''s' '$(id)' 'a\nb'");
    cr_expect_eq(remote_word(""), "''");
}

Test(remote, env_sends_named_variables_and_exported_functions) {
    setenv("PMAP_TEST_X", "1 2", 1);
    setenv("BASH_FUNC_pmapf%%", "() {  echo hi\n}", 1);
    setenv("SSH_AUTH_SOCK", "/x", 1);
    auto named = variables_to_send({"PMAP_TEST_X", "pmapf", "NOT_SET_ANYWHERE"});
    cr_expect(named == (std::vector<std::string>{"PMAP_TEST_X=1 2", "BASH_FUNC_pmapf%%=() {  echo hi\n}"}));
    auto all = variables_to_send({"_"});
    auto has = [&](std::string_view prefix) {
        for (const auto& v : all)
            if (v.starts_with(prefix)) return true;
        return false;
    };
    cr_expect(has("BASH_FUNC_pmapf%%="));
    cr_expect(!has("SSH_AUTH_SOCK="), "a login has its own");
    cr_expect(!has("HOME="));
    cr_expect(!has("PMAP_TEST_X="), "PMAP_ variables are pmap's to set");
}
