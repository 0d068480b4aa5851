// pmap --pipe / --pipepart: GNU parallel's block mode is another tool here,
// ppipe(1).  So that `parallel --pipe` habits work, pmap hands the whole
// command line over to ppipe, found beside pmap's own executable
// (/proc/self/exe) or else on PATH, translating GNU's spellings:
//   --pipe                  dropped
//   --pipepart -a FILE      FILE becomes ppipe's standard input
//   -a FILE, --arg-file     the same (GNU: --pipe reads the -a file)
//   --header :              --header=1 (the first record)
//   -L N, --max-lines N     --recsize=N (records of N lines)
//   --roundrobin            --round-robin
// GNU options ppipe has no counterpart for (--recstart, --recend, --regexp,
// --cat, --fifo, ...) are refused with a message; anything else is ppipe's
// to accept or refuse.
#pragma once

namespace pmap {

// Returns when argv has neither --pipe nor --pipepart among pmap's options;
// otherwise execs ppipe, or exits with a message (2: usage, 127: no ppipe).
void hand_over_to_ppipe_if_asked(int argc, char** argv);

}  // namespace pmap
