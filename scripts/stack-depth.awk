# SPDX-License-Identifier: MIT
# The deepest call path through gcc's -fcallgraph-info=su graphs (all the
# .ci files of src/, concatenated on stdin), for scripts/check-stack.
#  - A frame is the "N bytes" of a node's label; a function defined
#    elsewhere (libc, the port) counts 0 here: the port's hooks have their
#    own budget (docs/PORTING.md).
#  - The walker calls its visitor through pointers: an indirect call from
#    a function of src/walk.c (the walk, pt_walk_op, the runners) goes to
#    the visitor callbacks (VISITORS, "FILE:NAME ...") of the file whose
#    function started the walk, the last caller outside src/walk.c. Every
#    other indirect call is a port hook or a caller's callback.
#  - The function that recurses once per paging level (RECURSIVE: the
#    walker's walk_table) counts LEVELS times.
#  - Any other cycle is an error (an unbounded stack).
# Prints "BYTES bytes: f -> g -> ..." and fails when BYTES > MAX.
BEGIN {
	LEVELS = 5
	split("walk_table", r, " ")
	for (i in r) recursive[r[i]] = 1
	nv = split(visitors, v, " ")
	for (i = 1; i <= nv; i++) is_visitor[v[i]] = 1
}
function quoted(s, key,    i, rest) {
	i = index(s, key "\"")
	if (i == 0) return ""
	rest = substr(s, i + length(key) + 1)
	return substr(rest, 1, index(rest, "\"") - 1)
}
function short(t,    n, p) { n = split(t, p, ":"); return p[n] }
function basename(path,    n, p) { n = split(path, p, "/"); return p[n] }
/^node:/ {
	t = quoted($0, "title: ")
	l = quoted($0, "label: ")
	names[t] = 1
	if (t == "__indirect_call") next
	split(l, part, "\\\\n")
	if (match(l, /[0-9]+ bytes/)) {
		size[t] = substr(l, RSTART, RLENGTH - 6) + 0
		split(part[2], loc, ":")
		file[t] = basename(loc[1])
	} else if (!(t in size))
		size[t] = 0
	next
}
/^edge:/ {
	s = quoted($0, "sourcename: ")
	d = quoted($0, "targetname: ")
	if (s == d) { self[s] = 1; next }
	key = s SUBSEP d
	if (!(key in seen)) { seen[key] = 1; nkids[s]++; kid[s, nkids[s]] = d }
	next
}
function in_walker(t) { return file[t] == "walk.c" }
function calls_visitor(t) { return in_walker(t) }
# The deepest path below T, when the walk (if any) was started from file CTX.
function depth(t, ctx,    i, c, best, bk, d, mult, m) {
	if (!calls_visitor(t)) ctx = file[t]
	m = t SUBSEP ctx
	if (m in memo) return memo[m]
	if (onstack[m]) { printf "check-stack: a call cycle through %s\n", short(t) > "/dev/stderr"; cycle = 1; return 0 }
	onstack[m] = 1
	best = 0; bk = ""
	for (i = 1; i <= nkids[t]; i++) {
		c = kid[t, i]
		if (c == "__indirect_call") {
			if (!calls_visitor(t)) continue
			for (c in names)
				if (is_visitor[ctx ":" short(c)] && file[c] == ctx) {
					d = depth(c, ctx)
					if (d > best) { best = d; bk = c }
				}
			continue
		}
		d = depth(c, ctx)
		if (d > best) { best = d; bk = c }
	}
	onstack[m] = 0
	mult = (t in self) && recursive[short(t)] ? LEVELS : 1
	if ((t in self) && !recursive[short(t)]) { printf "check-stack: %s calls itself\n", short(t) > "/dev/stderr"; cycle = 1 }
	memo[m] = mult * size[t] + best
	next_of[m] = bk
	return memo[m]
}
function path(t, ctx,    s, m) {
	s = ""
	while (t != "") {
		if (!calls_visitor(t)) ctx = file[t]
		s = s (s == "" ? "" : " -> ") short(t) ((t in self) ? " x" LEVELS : "")
		m = t SUBSEP ctx
		t = next_of[m]
	}
	return s
}
END {
	best = 0
	for (t in names) {
		if (t == "__indirect_call") continue
		d = depth(t, file[t])
		if (d > best) { best = d; root = t }
		if (verbose) all[t] = d
	}
	if (verbose) for (t in all) if (all[t] >= (floor != "" ? floor : best / 2)) printf "    %6d %s\n", all[t], short(t) > "/dev/stderr"
	printf "%d bytes: %s", best, path(root, file[root])
	if (cycle) exit 1
	if (best > max) { printf "\nFAIL check-stack: the deepest path uses %d bytes (bound %d)\n", best, max > "/dev/stderr"; exit 1 }
}
