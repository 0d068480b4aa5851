// feed.hpp: moving bytes into a copy's stdin without blocking the loop.
//
// The pipe is ours alone, so it is made non-blocking and as large as the
// system lets an unprivileged user have (F_SETPIPE_SZ): a 1 MiB block then
// goes in with one write(2).  A range of a regular file goes in with
// splice(2): the page cache's pages move into the pipe, never through our
// memory.  Each returns false when the copy stopped reading (EPIPE), which is
// the copy's own business: its exit status says whether that was a failure.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <string_view>

#include "conc/loop.hpp"
#include "conc/task.hpp"

namespace ppipe {

// Makes fd, a pipe's write end of ours, non-blocking and up to want bytes large.
void prepare_pipe(int fd, std::size_t want);

// Writes all of data (which must outlive the await).
conc::task<bool> feed_bytes(conc::loop& lp, int fd, std::string_view data);

// Waits until fd has bytes and reads up to len of them; 0 at end of file.
conc::task<std::size_t> read_ready(conc::loop& lp, int fd, char* buf, std::size_t len);

// Moves [offset, offset + length) of file into fd.
conc::task<bool> feed_range(conc::loop& lp, int fd, int file, off_t offset, std::size_t length);

}  // namespace ppipe
