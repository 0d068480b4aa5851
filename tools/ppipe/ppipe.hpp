// ppipe: what the command line asked for, and the three shapes that run it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ppipe {

enum class shape { split, round_robin, tee, duplex };

// How stdin is cut into blocks (split and round-robin).
struct cut_rules {
    char delimiter = '\n';
    std::size_t block = 1u << 20;   // --block: a block holds at most this much, unless one record is longer
    std::uint64_t records = 0;      // -N: exactly this many records a block (0: cut by size)
    std::uint64_t recsize = 1;      // --recsize: cut only after a multiple of this many records
    std::uint64_t header = 0;       // --header: the first records, repeated atop every block
};

struct config {
    enum shape shape = shape::split;
    cut_rules cut;
    std::vector<std::string> commands;   // split: COMMAND [ARG...] (or one shell string with -s); tee, duplex: shell strings
    bool shell = false;                  // -s
    unsigned jobs = 1;
    bool keep_order = false;             // -k
    bool tag = false;                    // --tag (tee)
    bool bar = false, bar_forced = false;
    bool verbose = false;
};

// Each runs the whole shape and returns ppipe's exit status.
int run_split(const config& cfg);
int run_tee(const config& cfg);
int run_duplex(const config& cfg);

}  // namespace ppipe
