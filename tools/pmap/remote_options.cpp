#include "remote_options.hpp"

#include <cstdlib>

#include "messages.hpp"
#include "remote_env.hpp"

namespace pmap {

namespace {

enum : int {
    opt_slf = 0x3000, opt_ssh, opt_transfer, opt_transferfile, opt_return, opt_cleanup, opt_trc, opt_basefile,
    opt_filter_hosts, opt_record_env, opt_onall, opt_nonall,
};

// --ssh "ssh -F cfg": words at blanks, as GNU parallel splits it.
std::vector<std::string> words_of(std::string_view s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
        if (j > i) out.emplace_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

}  // namespace

std::vector<cli::option_spec> remote_option_rows() {
    return {
        {'S', "sshlogin", cli::arg::required, "[N/][USER@]HOST[:PORT]", "run jobs on HOST over ssh (N slots; : is here); may repeat"},
        {opt_slf, "sshloginfile", cli::arg::required, "FILE", "hosts from FILE, read again when it changes (.. ~/.parallel/sshloginfile)"},
        {opt_slf, "slf", cli::arg::required, "FILE", "the same as --sshloginfile"},
        {opt_ssh, "ssh", cli::arg::required, "CMD", "the transport instead of ssh (called as ssh is)"},
        {'M', "controlmaster", cli::arg::none, nullptr, "accepted: pmap always shares one ssh connection per host"},
        {opt_transfer, "transfer", cli::arg::none, nullptr, "send the input file {} to the host before its job"},
        {opt_transferfile, "transferfile", cli::arg::required, "FILE", "send FILE (may hold {}) before the job"},
        {opt_transferfile, "tf", cli::arg::required, "FILE", "the same as --transferfile"},
        {opt_return, "return", cli::arg::required, "FILE", "fetch FILE (may hold {}) back after the job; may repeat"},
        {opt_cleanup, "cleanup", cli::arg::none, nullptr, "remove the sent and fetched files on the host after the job"},
        {opt_trc, "trc", cli::arg::required, "FILE", "--transfer --return FILE --cleanup"},
        {opt_basefile, "basefile", cli::arg::required, "FILE", "send FILE to each host once, before its first job"},
        {opt_basefile, "bf", cli::arg::required, "FILE", "the same as --basefile"},
        {opt_filter_hosts, "filter-hosts", cli::arg::none, nullptr, "drop the hosts that cannot be reached, with a warning"},
        {opt_onall, "onall", cli::arg::none, nullptr, "run every job on every host (each host one job at a time)"},
        {opt_nonall, "nonall", cli::arg::none, nullptr, "run COMMAND once on every host, with no items"},
        {opt_record_env, "record-env", cli::arg::none, nullptr, "write this environment's variable names to ~/.parallel/ignored_vars, for --env _"},
    };
}

bool take_remote_option(int key, const std::string& v, config& cfg) {
    remote_config& r = cfg.remote;
    switch (key) {
    case 'S': add_sshlogins(v, r.logins); return true;
    case opt_slf:
        if (v.empty()) throw cli::usage_problem("--sshloginfile needs a file");
        r.login_file = sshlogin_file_path(v);
        return true;
    case opt_ssh:
        r.ssh = words_of(v);
        if (r.ssh.empty()) throw cli::usage_problem("--ssh needs a command");
        return true;
    case 'M': return true;
    case opt_transfer: r.transfer.push_back("{}"); return true;
    case opt_transferfile: r.transfer.push_back(v); return true;
    case opt_return: r.returns.push_back(v); return true;
    case opt_cleanup: r.cleanup = true; return true;
    case opt_trc:
        r.transfer.push_back("{}");
        r.returns.push_back(v);
        r.cleanup = true;
        return true;
    case opt_basefile: r.basefiles.push_back(v); return true;
    case opt_filter_hosts: r.filter_hosts = true; return true;
    case opt_onall: r.onall = true; return true;
    case opt_nonall: r.nonall = true; return true;
    case opt_record_env: cfg.instead = record_environment; return true;
    default: return false;
    }
}

void finish_remote_options(config& cfg) {
    remote_config& r = cfg.remote;
    if (const char* ssh = std::getenv("PARALLEL_SSH"); ssh && *ssh && r.ssh == std::vector<std::string>{"ssh"})
        r.ssh = words_of(ssh);
    if (!r.login_file.empty()) {   // read once now: a missing file or a bad line is a usage error
        try {
            sshlogin_file(r.login_file).changed();
        } catch (const cli::usage_problem& e) {
            cli::usage_error(e.what());
        }
    }
    if (r.onall || r.nonall) {
        const char* which = r.nonall ? "--nonall" : "--onall";
        if (!r.any()) cli::usage_error(std::string(which) + " needs hosts: -S or --sshloginfile");
        if (r.nonall && !cfg.sources.empty()) cli::usage_error("--nonall takes no items (--onall runs them on every host)");
        if (cfg.resume || cfg.resume_failed || cfg.retry_failed || !cfg.results.empty() || cfg.files)
            cli::usage_error(std::string(which) + " cannot be combined with --resume, --resume-failed, --retry-failed, "
                                                  "--results or --files");
        if (cfg.joblog == "-") cli::usage_error(std::string(which) + " cannot log to standard output (--joblog -)");
    }
    if (r.any()) return;
    if (!r.transfer.empty() || !r.returns.empty() || !r.basefiles.empty() || r.cleanup)
        cli::usage_error("--transfer, --return, --cleanup and --basefile need hosts: -S or --sshloginfile");
    if (cfg.workdir == "...") cli::usage_error("--workdir ... needs hosts (-S); here give a directory");
}

}  // namespace pmap
