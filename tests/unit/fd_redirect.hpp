// fd_redirect: points a standard fd (1 or 2) somewhere else for as long as it
// lives, then gives it back.  For tests of what a tool writes on stdout or
// stderr (output_test, forked_process_test).
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include "conc/fd.hpp"

class fd_redirect {
public:
    // From now on, `target` refers to what `to` refers to.
    fd_redirect(int target, int to) : target_(target), saved_(::fcntl(target, F_DUPFD_CLOEXEC, 10)) {
        ::dup2(to, target);
    }
    ~fd_redirect() { restore(); }
    fd_redirect(const fd_redirect&) = delete;
    fd_redirect& operator=(const fd_redirect&) = delete;

    // Gives `target` back what it referred to (once; the destructor does it too).
    void restore() {
        if (!saved_) return;
        ::dup2(saved_.get(), target_);
        saved_.reset();
    }

private:
    int target_;
    conc::unique_fd saved_;
};
