// libconc/src/after_fork.hpp: what a child just forked (or vforked) from a
// libconc program does before it runs anything of its own.  Internal: shared
// by spawn() (process.cpp), which execs a command, and forked_process, which
// runs a function.  Every function here is async-signal-safe, except the
// connection list's, which only forked_process (a fork, not a vfork) uses.
#pragma once
#include <sys/types.h>

#include <cstddef>

namespace conc::detail {

// Every signal the parent catches goes back to its default disposition; the
// ignored ones stay ignored.  The parent's handlers would write into the
// parent's loop (its self-pipe is shared across the fork).
void reset_caught_signals() noexcept;

// Linux: asks for signal sig when the thread that forked this child (in
// process `parent`) ends, through prctl(PR_SET_PDEATHSIG), then checks that
// the parent had not already gone before the request.  Returns 0, ESRCH when
// the parent is already gone (the caller should exit), or the errno of prctl.
// Elsewhere: returns 0 and does nothing.
int set_parent_death_signal(int sig, pid_t parent) noexcept;

// A forked child is outside every loop of its parent: loop::current() has
// none and the signal pipe of the parent's loop is forgotten, so the child
// may run a loop of its own.  Defined in loop.cpp.
void forget_loops_after_fork() noexcept;

// The list of open connections (connection.cpp): locked across the fork by
// forked_process::start, so that the child finds it whole; in the child,
// every connection whose object lies outside [keep, keep + size) (the
// function and its arguments) is closed and marked as closed by the fork.
void lock_connections() noexcept;
void unlock_connections() noexcept;
void close_connections_outside(const void* keep, std::size_t size) noexcept;

}  // namespace conc::detail
