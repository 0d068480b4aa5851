// conc/detail/wait_policy.hpp: what wait() returns on and the error of a
// timeout, shared by the loop's wait (conc/wait.hpp) and the pools' wait and
// as_completed (conc/pool.hpp), so that neither header needs the other.
#pragma once
#include <exception>

namespace conc {

// asyncio.TimeoutError, concurrent.futures.TimeoutError.
struct timeout_error : std::exception {
    const char* what() const noexcept override { return "timed out"; }
};

// return_when of asyncio.wait and concurrent.futures.wait.
enum class wait_policy { all_completed, first_completed, first_exception };

}  // namespace conc
