// fork_pool's dispatcher.  Callers queue jobs (submit, close, terminate)
// under a lock and post a wake-up to the conc::loop that runs on the pool's
// thread.  There, tasks of the loop do the rest: the dispatcher hands queued
// jobs to the workers' links, each worker's reader completes the jobs its
// replies answer (and replaces the worker if it died), and each worker's
// writer waits for room when its task pipe is full.  The path of a task is
// told in fork_pool_parts.hpp.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "conc/co_sync.hpp"
#include "conc/error.hpp"
#include "conc/loop.hpp"
#include "fork_pool_parts.hpp"

namespace conc {

namespace detail {

std::exception_ptr bad_reply() { return std::make_exception_ptr(std::runtime_error("fork_pool: bad reply")); }

std::exception_ptr remote_failure(const char* what, std::size_t size) {
    return std::make_exception_ptr(remote_error(std::string(what, size)));
}

}  // namespace detail

using detail::fork_job;
using detail::worker_link;

struct fork_pool::impl {
    // A worker and the loop's tasks that serve it.
    struct worker {
        worker_link link;
        job<void> reader, writer;
        co::event blocked;  // its task pipe was full: the writer waits for room
    };

    function fn;
    fork_pool_options opt;
    sigset_t child_mask;
    std::vector<std::unique_ptr<worker>> workers;  // each at a fixed address: the tasks hold it

    std::mutex m;  // guards the next six
    std::deque<std::unique_ptr<fork_job>> submitted;
    bool closed = false, terminating = false, wake_sent = false;
    bool ending = false;  // the destructor: close if every task is done, else terminate
    bool running = true;  // the pool's thread has not finished

    std::thread io;
    std::mutex join_m;

    // The pool's thread only.
    std::deque<std::unique_ptr<fork_job>> pending;
    // pending.size() for queue(); it grows under m as jobs move in from
    // submitted, so submitted.size() + pending_size never misses a job.
    std::atomic<std::size_t> pending_size{0};
    co::event changed;           // a request, a reply or a death: the dispatcher looks again
    std::exception_ptr failure;  // a reader or writer could not go on

    // Declared last, destroyed first: no task of the loop outlives what it uses.
    loop lp;
    std::vector<int> loop_fds;  // lp's pipes, which the workers close

    impl(function f, unsigned n, fork_pool_options o) : fn(std::move(f)), opt(o) {
        if (n == 0) n = detail::online_cpus();
        if (opt.tasks_ahead == 0) opt.tasks_ahead = 1;
        ::pthread_sigmask(SIG_SETMASK, nullptr, &child_mask);
        loop_fds = detail::loop_access::internal_fds(lp);
        for (int fd : loop_fds) detail::fork_registry_add(fd);
        try {
            for (unsigned i = 0; i < n; ++i) {
                workers.push_back(std::make_unique<worker>());
                workers.back()->link.start(fn, child_mask);
            }
            // The pool's thread blocks every signal: it must not take the
            // process's signals, and a write to a dead worker gives EPIPE, not SIGPIPE.
            sigset_t all, old;
            sigfillset(&all);
            ::pthread_sigmask(SIG_SETMASK, &all, &old);
            try {
                io = std::thread([this] { thread_main(); });
            } catch (...) {
                ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
                throw;
            }
            ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        } catch (...) {
            stop_all(true);
            for (int fd : loop_fds) detail::fork_registry_forget(fd);
            throw;
        }
    }

    // Callers: the dispatcher looks at the queue and the flags again.
    void wake() {
        // caller holds m
        if (wake_sent || !running) return;
        wake_sent = true;
        lp.post([this] { changed.set(); });
    }

    void submit(std::unique_ptr<fork_job> job) {
        std::lock_guard lk(m);
        if (closed || terminating) throw std::runtime_error("fork_pool: pool not running");
        submitted.push_back(std::move(job));
        wake();
    }

    void thread_main() {
        try {
            lp.run(dispatcher());
        } catch (...) {
            auto e = std::current_exception();
            {
                std::lock_guard lk(m);
                terminating = true;
            }
            stop_all(true);
            fail_all(e);
        }
        std::lock_guard lk(m);
        running = false;
        for (int fd : loop_fds) detail::fork_registry_forget(fd);
    }

    task<void> dispatcher() {
        loop::hold awake(lp);  // callers wake it through post
        for (auto& w : workers) start_tasks(*w);
        for (;;) {
            changed.clear();
            if (failure) std::rethrow_exception(failure);
            bool closing, term;
            {
                std::lock_guard lk(m);
                pending_size.fetch_add(submitted.size());
                for (auto& j : submitted) pending.push_back(std::move(j));
                submitted.clear();
                closing = closed;
                term = terminating;
                wake_sent = false;
                // Leaving "with Pool() as p:" when the work is all done must
                // not kill workers that still hold output in their stdio.
                if (ending && !term) {
                    if (all_done())
                        closing = closed = true;
                    else
                        term = terminating = true;
                }
            }
            if (term) {
                stop_all(true);
                fail_all(std::make_exception_ptr(std::runtime_error("fork_pool terminated")));
                co_return;
            }
            dispatch();
            if (closing && pending.empty() && idle()) {
                stop_tasks();
                for (auto& w : workers) w->link.hang_up();  // all exit together
                for (auto& w : workers)
                    if (w->link.alive()) w->link.stop(false);
                co_return;
            }
            co_await changed.wait();
        }
    }

    // Gives each live worker up to tasks_ahead jobs, round robin, and sends them.
    void dispatch() {
        bool progress = true;
        while (progress && !pending.empty()) {
            progress = false;
            for (auto& w : workers) {
                if (pending.empty()) break;
                auto& l = w->link;
                if (!l.alive() || l.in_flight() >= opt.tasks_ahead) continue;
                if (opt.maxtasksperchild && l.tasks_given() >= opt.maxtasksperchild) continue;
                auto job = std::move(pending.front());
                pending.pop_front();
                pending_size.fetch_sub(1);
                progress = true;
                if (job->claim()) l.push(std::move(job));  // else cancelled before it was sent
            }
        }
        for (auto& w : workers)
            if (w->link.alive() && w->link.wants_write() &&
                w->link.send() == worker_link::send_result::would_block)
                w->blocked.set();
    }

    task<void> reader(worker* w) {
        try {
            for (;;) {
                co_await lp.readable(w->link.result_fd());
                if (!w->link.alive()) co_return;  // stopped while this task was due to run
                if (!w->link.receive())
                    replace(*w, true);
                else if (opt.maxtasksperchild && w->link.tasks_given() >= opt.maxtasksperchild &&
                         w->link.in_flight() == 0)
                    replace(*w, false);  // closing its task pipe makes it exit
                changed.set();
            }
        } catch (const cancelled_error&) {
            throw;
        } catch (...) {
            fail(std::current_exception());
        }
    }

    task<void> writer(worker* w) {
        try {
            for (;;) {
                co_await w->blocked.wait();
                w->blocked.clear();
                while (w->link.alive() && w->link.wants_write()) {
                    auto r = w->link.send();
                    if (r == worker_link::send_result::broken) break;  // its reader will see the death
                    if (r == worker_link::send_result::would_block) co_await lp.writable(w->link.task_fd());
                }
            }
        } catch (const cancelled_error&) {
            throw;
        } catch (...) {
            fail(std::current_exception());
        }
    }

    void fail(std::exception_ptr e) {
        if (!failure) failure = std::move(e);
        changed.set();
    }

    void start_tasks(worker& w) {
        w.reader = lp.spawn(reader(&w));
        w.writer = lp.spawn(writer(&w));
    }
    // Before their pipes close: the tasks stop waiting on them at once.
    void stop_tasks() {
        for (auto& w : workers) {
            w->reader.cancel();
            w->writer.cancel();
        }
    }

    // A worker that died fails the job it was running (its other jobs were
    // never started and go back to the queue); one due for renewal has none.
    void replace(worker& w, bool died) {
        w.writer.cancel();
        exit_status st = w.link.stop(died);
        auto jobs = w.link.take_unanswered();
        if (!jobs.empty()) {
            std::string why = st.exited() ? "worker exited with status " + std::to_string(st.code())
                                          : "worker died: " + st.describe();
            jobs.front()->fail(std::make_exception_ptr(worker_died(why)));
            for (std::size_t i = jobs.size(); i-- > 1;) {
                pending.push_front(std::move(jobs[i]));
                pending_size.fetch_add(1);
            }
        }
        w.link.start(fn, child_mask);
        w.writer = lp.spawn(writer(&w));
    }

    void stop_all(bool kill_first) {
        stop_tasks();
        for (auto& w : workers)
            if (w->link.alive()) w->link.stop(kill_first);
    }

    bool idle() const {
        for (auto& w : workers)
            if (w->link.in_flight()) return false;
        return true;
    }

    // Every task submitted so far is done (the caller holds m, so submitted
    // cannot grow).  Between two steps of the pool's thread, a job whose
    // future is finished is in no worker's link any more, so a caller that
    // saw every future done finds them all empty here.
    bool all_done() const {
        if (!idle()) return false;
        for (auto& j : pending)
            if (!j->done()) return false;
        for (auto& j : submitted)
            if (!j->done()) return false;
        return true;
    }

    void fail_all(std::exception_ptr e) {
        for (auto& w : workers)
            for (auto& j : w->link.take_unanswered()) j->fail(e);
        for (auto& j : pending)
            if (j->claim()) j->fail(e);
        pending.clear();
        std::deque<std::unique_ptr<fork_job>> rest;
        {
            std::lock_guard lk(m);
            rest.swap(submitted);
            pending_size.store(0);
        }
        for (auto& j : rest)
            if (j->claim()) j->fail(e);
    }
};

fork_pool::fork_pool(unsigned n, fork_pool_options opt) : impl_(std::make_unique<impl>(function{}, n, opt)) {}

fork_pool::fork_pool(function fn, unsigned n, fork_pool_options opt)
    : impl_(std::make_unique<impl>(std::move(fn), n, opt)) {}

fork_pool::~fork_pool() {
    {
        std::lock_guard lk(impl_->m);
        impl_->ending = true;
        impl_->wake();
    }
    std::lock_guard jl(impl_->join_m);
    if (impl_->io.joinable()) impl_->io.join();
}

unsigned fork_pool::size() const noexcept { return unsigned(impl_->workers.size()); }

queue_snapshot fork_pool::queue() const {
    std::lock_guard lk(impl_->m);
    return queue_snapshot(impl_->submitted.size() + impl_->pending_size.load());
}

void fork_pool::require_function() const {
    if (!impl_->fn) throw std::logic_error("fork_pool: no function given at construction for byte-string calls");
}

future<std::string> fork_pool::apply_async(std::string_view item) {
    require_function();
    auto job = std::make_unique<detail::one_job<std::string, detail::bytes_reply>>();
    job->frame = detail::wire_request(item);
    job->count = 1;
    auto f = job->result.get_future();
    submit_job(std::move(job));
    return f;
}

void fork_pool::submit_job(std::unique_ptr<fork_job> job) {
    if (job->frame_size() < detail::wire_request_header) throw std::invalid_argument("fork_pool: frame too short");
    detail::wire_finish_request(job->frame_data(), job->frame_size(), job->count);
    job->prepare();
    impl_->submit(std::move(job));
}

void fork_pool::close() {
    std::lock_guard lk(impl_->m);
    impl_->closed = true;
    impl_->wake();
}

void fork_pool::terminate() {
    std::lock_guard lk(impl_->m);
    impl_->terminating = true;
    impl_->wake();
}

void fork_pool::join() {
    {
        std::lock_guard lk(impl_->m);
        if (!impl_->closed && !impl_->terminating)
            throw std::logic_error("fork_pool::join: call close() or terminate() first");
    }
    std::lock_guard jl(impl_->join_m);
    if (impl_->io.joinable()) impl_->io.join();
}

}  // namespace conc
