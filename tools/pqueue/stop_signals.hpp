// stop_signals.hpp: INT, TERM and HUP in a process that may hold items.
//
// pqueue exits 128+n on these signals at once, also while it waits for an
// item, for room or for its reader, and loses nothing it took.  So the
// signals are blocked except where one may act, in one of two ways:
//
//  - abandonable: a stretch that may be given up at any instant because it
//    holds nothing (a put; a get waiting for an item; a join).  The handler
//    _exits 128+n there and then.  The queue survives that as it survives
//    SIGKILL: every item is wholly in it or wholly out.
//  - deliverable: while get writes items it took.  The handler only records
//    the signal; its arrival ends a blocked write(2) with EINTR (the handler
//    has no SA_RESTART), and get puts back what it did not write, then exits.
//
// Signals ignored when pqueue started (nohup) stay ignored.
#pragma once

namespace pqueue::stop_signals {

// Installs the handler and blocks the signals.  Call once, before the queue is opened.
void install() noexcept;

// The stop signal recorded in a deliverable stretch, or 0.
int pending() noexcept;

// 128 + sig.
constexpr int exit_code(int sig) noexcept { return 128 + sig; }

// While one lives, a stop signal ends the process with exit_code(sig); one
// that comes as it ends is recorded instead (check pending() after it).
class abandonable {
public:
    abandonable() noexcept;
    ~abandonable();
    abandonable(const abandonable&) = delete;
    abandonable& operator=(const abandonable&) = delete;
};

// While one lives, a stop signal is recorded (pending()) and interrupts a
// blocked system call.
class deliverable {
public:
    deliverable() noexcept;
    ~deliverable();
    deliverable(const deliverable&) = delete;
    deliverable& operator=(const deliverable&) = delete;
};

}  // namespace pqueue::stop_signals
