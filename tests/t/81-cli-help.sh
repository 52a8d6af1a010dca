#!/bin/sh
# `sipprov help NOUN` and `sipprov NOUN --help`: that noun's usage with
# examples, for every noun in tools/commands.def, naming every subcommand the
# noun dispatches and only options the code parses; did-you-mean for
# commands, subcommands and options; the bash completion built on it.
. "$(dirname "$0")/../lib.sh"
need bash
cd "$T" || exit 1   # init writes a sipprovd.conf into the current folder

nouns=$(sed -n 's/^CMD("\([a-z-]*\)".*/\1/p' "$ROOT/tools/commands.def")
[ "$(echo "$nouns" | wc -l)" -gt 10 ]; ok $? "commands.def lists the nouns ($(echo $nouns | wc -w))"
for n in $nouns; do
	h=$("$SIPPROV" help "$n"); rc=$?
	[ $rc -eq 0 ] && printf '%s' "$h" | grep -q "^usage: sipprov $n" && printf '%s' "$h" | grep -q '^examples:'
	ok $? "help $n: usage and examples, exit 0"
	is "$("$SIPPROV" "$n" --help)" "$h" "$n --help prints the same"
	# Subcommands the noun dispatches: its usage when called without one
	# (only nouns whose commands.def line lists "a|b|..."; others would act).
	subs=""
	grep -q "^CMD(\"$n\", *[a-z_]*, *\"[a-z]*|" "$ROOT/tools/commands.def" &&
		subs=$(cd "$T" && "$SIPPROV" -d "$T/none.db" "$n" 2>&1 </dev/null |
			sed -n "s/^usage: sipprov $n \([a-z|]*\) \.\.\.$/\1/p" | tr '|' ' ')
	missing=""
	for s in $subs; do printf '%s' "$h" | grep -Eq "sipprov $n ([a-z]+\|)*$s( |\||$)" || missing="$missing $s"; done
	is "$missing" "" "help $n names every subcommand it dispatches${subs:+ ($subs)}"
	unknown=""
	for o in $(printf '%s' "$h" | grep -oE -- '(^|[][ |(])--?[a-z][a-z-]*' | tr -d '[]|( ' | sort -u); do
		grep -q "\"$o\"" "$ROOT"/tools/*.c || unknown="$unknown $o"
	done
	is "$unknown" "" "help $n mentions only options the CLI parses"
done
is "$("$SIPPROV" device add --help)" "$("$SIPPROV" help device)" "--help after a subcommand: the noun's help"
like "$("$SIPPROV" --help)" '^usage: sipprov ' "--help alone: the command list"
out=$("$SIPPROV" help 2>&1); rc=$?
is "$rc" 0 "'sipprov help' exits 0"
like "$out" '  device +add\|list' "'sipprov help' lists the commands"

out=$("$SIPPROV" devcie 2>&1); rc=$?
is "$rc" 2 "a mistyped command is a usage error"
like "$out" "unknown command 'devcie'; did you mean 'device'\?" "devcie: did you mean 'device'?"
like "$("$SIPPROV" tenat list 2>&1)" "did you mean 'tenant'\?" "tenat: did you mean 'tenant'?"
like "$("$SIPPROV" help devcie 2>&1)" "did you mean 'device'\?" "help devcie: did you mean 'device'?"
out=$("$SIPPROV" xyzzy 2>&1)
unlike "$out" 'did you mean' "nothing close: no suggestion"
like "$out" "unknown command 'xyzzy'" "nothing close: still names the word"
sp init >/dev/null
# The config init writes beside a new SQLite file (on PostgreSQL it writes
# none, so this one is made on a file of its own whatever the backend).
mkdir "$T/ic"
(cd "$T/ic" && SIPPROV_KEY_FILE="$T/ic/k" "$SIPPROV" -d "$T/ic/sipprov.db" init >/dev/null)
like "$(cat "$T/ic/sipprovd.conf")" "Prefer an ECDSA P-256.*" "init's config recommends an ECDSA P-256 certificate"
like "$(cat "$T/ic/sipprovd.conf")" "keep RSA-2048 for" "and says when to keep RSA-2048"
out=$(sp device lsit 2>&1); rc=$?
is "$rc" 2 "a mistyped subcommand is a usage error"
like "$out" "unknown device command 'lsit'; did you mean 'list'\?" "device lsit: did you mean 'list'?"
like "$(sp template rollbak 2>&1)" "did you mean 'rollback'\?" "template rollbak: did you mean 'rollback'?"
like "$(sp device list --tenent acme 2>&1)" "unknown option '--tenent'; did you mean '--tenant'\?" "--tenent: did you mean '--tenant'?"
like "$(sp device list --tenent=acme 2>&1)" "did you mean '--tenant'\?" "--tenent=acme: did you mean '--tenant'?"

# Bash completion, sourced as bash-completion would, over this build's CLI.
comp() { PATH="$SP_BUILD:$PATH" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sipprov;
	printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' sh "$ROOT/etc/bash-completion/sipprov" "$@"; }
is "$(comp sipprov dev)" "device " "completion: 'dev' -> device"
is "$(comp sipprov "")" "$(echo "$nouns" | sort | tr '\n' ' ')" "completion: every noun of commands.def"
is "$(comp sipprov device "")" "add claim credentials disable enable list pending rm set show " "completion: device's subcommands"
is "$(comp sipprov -d x.db template ro)" "rollback " "completion: after -d DB, template's subcommands"
like "$(comp sipprov device add --te)" '^--template --tenant $' "completion: device's options"
like "$(comp sipprov account token 00 --r)" '--revoke --rotate' "completion: options from 'a|b' alternatives"
done_testing
