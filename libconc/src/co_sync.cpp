#include "conc/co_sync.hpp"

namespace conc {

void co::event::set() {
    set_ = true;
    while (detail::waiter* w = waiters_.pop_front()) w->fire();
}

void co::semaphore::release() {
    if (detail::waiter* w = waiters_.pop_front()) w->fire();   // the permit passes straight to it
    else ++count_;
}

}  // namespace conc
