// The messages between pmap and `pmap --worker` on another host, over the
// ssh connection's stdin and stdout: one conc::connection frame each (a
// length, then the message's codec bytes), as fork_pool frames its tasks.
//
// First the worker writes one line of text, its greeting:
//   pmap-worker VERSION CPUS BYTES
// BYTES: a fixed u64 as its bytes lie in memory, in hex, so that a host of
// another byte order (whose codec bytes would differ) is told apart: pmap
// then runs one ssh per job there, as it does where no pmap is installed.
// Then frames:
//   pmap -> worker   start   id, argv, env ("NAME=value"), data: the directory
//                            (made if missing; empty: the login directory)
//   pmap -> worker   signal  id, value: TERM the job's group, KILL after 1 s
//   worker -> pmap   output  id, value: 1 or 2 (the stream), data: bytes
//   worker -> pmap   exit    id, value: the wait status (or 126/127 << 8 when
//                            the command could not run; the reason came on stream 2)
//   pmap -> worker   put     id, argv[0]: path, value: mode, data: the file
//   pmap -> worker   get     id, argv[0]: path
//   pmap -> worker   remove  id, argv: paths (a directory goes with what it holds)
//   worker -> pmap   reply   id, value: 0 or an errno, data: a get's file or
//                            the error's text
// End of file on the worker's stdin (pmap ended, or the connection was
// lost): every job's group gets TERM, then KILL after 1 s, and the worker exits.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conc/codec.hpp"

namespace pmap::wire {

inline constexpr std::int64_t version = 1;

// The greeting line, newline included.
std::string greeting(unsigned cpus);
// What a greeting says: the CPU count when it is a worker pmap can use,
// 0 when it is a greeting of another version or byte order, nullopt when the
// line is not a worker's greeting at all.
std::optional<unsigned> read_greeting(std::string_view line);

enum class kind : std::uint8_t { start = 1, signal, output, exit, put, get, remove, reply };

struct message {
    wire::kind kind = kind::start;
    std::uint64_t id = 0;
    std::int64_t value = 0;
    std::string data;
    std::vector<std::string> argv, env;
};

}  // namespace pmap::wire

template <>
struct conc::codec<pmap::wire::message> {
    static void encode(const pmap::wire::message& m, std::string& out) {
        conc::encode(m.kind, out);
        conc::encode(m.id, out);
        conc::encode(m.value, out);
        conc::encode(m.data, out);
        conc::encode(m.argv, out);
        conc::encode(m.env, out);
    }
    static pmap::wire::message decode(std::string_view& in) {
        pmap::wire::message m;
        m.kind = codec<pmap::wire::kind>::decode(in);
        m.id = codec<std::uint64_t>::decode(in);
        m.value = codec<std::int64_t>::decode(in);
        m.data = codec<std::string>::decode(in);
        m.argv = codec<std::vector<std::string>>::decode(in);
        m.env = codec<std::vector<std::string>>::decode(in);
        return m;
    }
};
