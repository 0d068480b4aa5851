#!/bin/sh
# man_examples.sh: every example program of a man page compiles and links.
#
#   man_examples.sh PAGE OUTDIR COMPILER [FLAGS...]
#   (environment: LIBS, the link arguments, e.g. "build/lib/libconc.a -pthread")
#
# libconc(3) promises that its examples are complete programs that compile
# against the headers and libconc.a.  An example is a literal display
# (.Bd -literal ... .Ed) that defines main(); each is written, its mdoc
# escapes undone, to OUTDIR/PAGE-LINE.cpp (LINE: where the display starts in
# PAGE) and built with
#
#   COMPILER FLAGS... OUTDIR/PAGE-LINE.cpp -o OUTDIR/PAGE-LINE $LIBS
#
# A display that includes a conc header but has no main() is an error (an
# example must be a whole program), as are a roff request or an escape this
# script does not know inside such a display.  Exit status: 0 when every
# example builds; 1 otherwise, each failure named by its line in PAGE; 2 on
# bad usage.
set -u

if [ $# -lt 3 ]; then
    echo "usage: man_examples.sh PAGE OUTDIR COMPILER [FLAGS...]" >&2
    exit 2
fi
page=$1 out=$2
shift 2
name=${page##*/}
mkdir -p "$out" || exit 2
rm -f "$out/$name"-* "$out/$name.list"

# One raw file per display with main() or a conc include; the list holds
# their first lines.
awk -v out="$out" -v name="$name" '
    /^\.Bd -literal/ { inside = 1; start = NR; body = ""; next }
    /^\.Ed/ && inside {
        inside = 0
        if (body ~ /int main *\(/ || body ~ /#include <conc\//) {
            file = out "/" name "-" start ".raw"
            printf "%s", body > file
            close(file)
            print start > (out "/" name ".list")
        }
        next
    }
    inside { body = body $0 "\n" }
' "$page" || exit 2
if [ ! -s "$out/$name.list" ]; then
    echo "man_examples.sh: $page: no example program found" >&2
    exit 1
fi

status=0 count=0
soh=$(printf '\001')
for line in $(cat "$out/$name.list"); do
    raw=$out/$name-$line.raw
    src=$out/$name-$line.cpp
    count=$((count + 1))
    if ! grep -q 'int main *(' "$raw"; then
        echo "man_examples.sh: $page:$line: a display that includes a conc header is not a whole program (no main)" >&2
        status=1
        continue
    fi
    if grep -q "^[.']" "$raw"; then
        echo "man_examples.sh: $page:$line: a roff request inside the display" >&2
        status=1
        continue
    fi
    # \e is a backslash (kept aside as \001 until the others are undone);
    # the rest are the escapes that code in mdoc pages uses.
    sed -e "s/\\\\e/$soh/g" -e 's/\\&//g' -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e "s/\\\\(aq/'/g" \
        -e 's/\\(ga/`/g' -e 's/\\(ti/~/g' -e 's/\\(ha/^/g' "$raw" > "$src.tmp"
    if grep -n '\\' "$src.tmp" >&2; then
        echo "man_examples.sh: $page:$line: an escape this script does not know (above)" >&2
        status=1
        continue
    fi
    sed "s/$soh/\\\\/g" "$src.tmp" > "$src"
    rm -f "$src.tmp" "$raw"
    # shellcheck disable=SC2086  # LIBS is a list of words
    if ! "$@" "$src" -o "$out/$name-$line" ${LIBS-} 2>"$out/$name-$line.log"; then
        echo "man_examples.sh: $page:$line: the example does not compile:" >&2
        cat "$out/$name-$line.log" >&2
        status=1
    elif [ -s "$out/$name-$line.log" ]; then
        echo "man_examples.sh: $page:$line: the example compiles with warnings:" >&2
        cat "$out/$name-$line.log" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "man_examples.sh: $page: $count example programs compile and link"
exit $status
