// open_queue.cpp: a queue named on the command line, opened or made, with
// every way that can fail mapped to pqueue's exit codes.
#include <cerrno>
#include <string>

#include "messages.hpp"
#include "pqueue.hpp"

namespace pqueue {

void check_name(const std::string& name) {
    if (std::string why = conc::shm_queue::name_error(name); !why.empty())
        cli::die(cli::exit_usage, "bad queue name '" + name + "': " + why);
}

conc::shm_queue open_queue(const std::string& name, const conc::queue_options* create_missing) {
    check_name(name);
    try {
        if (create_missing) return conc::shm_queue::open_or_create(name, *create_missing);
        return conc::shm_queue::open(name);
    } catch (const conc::sys_error& e) {
        if (e.err() == ENOENT && !create_missing) cli::die(cli::exit_usage, "no queue '" + name + "'");
        // Bad input: a queue that is not the user's, a path into a missing folder, ...
        if (e.err() == EACCES || e.err() == EPERM || e.err() == ENOENT || e.err() == ENOTDIR || e.err() == EISDIR)
            cli::die(cli::exit_usage, "cannot open queue '" + name + "': " + e.code().message());
        cli::die(cli::exit_internal, "cannot open queue '" + name + "': " + e.code().message());
    } catch (const conc::queue_format_error& e) {
        cli::die(cli::exit_usage, "'" + name + "' is not a queue: " + e.what());
    } catch (const std::invalid_argument& e) {
        cli::die(cli::exit_usage, "queue '" + name + "': " + e.what());
    }
}

}  // namespace pqueue
