// pmap's options for input sources, argument packing and replacement strings
// (GNU parallel's -a, :::, ::::, :::+, --link, --header, --colsep, --trim,
// --shuf, -r, -E, -n, -N, -m, -X, -L, --max-chars, --plus, --rpl), read into
// pmap::config; main.cpp hands them over.  Bad values are usage errors (exit 2).
#pragma once
#include <string>
#include <vector>

#include "options.hpp"
#include "pmap.hpp"

namespace pmap {

std::vector<cli::option_spec> source_option_rows();

// Takes one option of source_option_rows(); false when key is not one of them.
bool take_source_option(int key, const std::string& value, config& cfg);

// COMMAND [ARG...] then sources: ::: ITEM... (one source), :::: FILE... (one
// source a file), :::+ / ::::+ (the first of them linked to the source before).
void take_operands(const std::vector<std::string>& operands, config& cfg);

// After all options: files openable, stdin read once, the template compiles.
void check_sources(config& cfg);

}  // namespace pmap
