# The folders of src/ depend downward only: the graph of "folder includes a header of folder"
# has no cycle (tsort finds none), src/graph includes nothing of the ops, numeric modes or MoE,
# and the ops include nothing of quantization or MoE (they reach them only through hooks).
SRC="$2/../src"
pairs=$(for d in "$SRC"/*/; do
    from=$(basename "$d")
    grep -rhoE '#include "[a-z0-9_-]+/' "$d" | sed 's/#include "//; s|/$||' | sort -u | while read -r to; do
        [ "$to" = axnn ] || [ "$to" = "$from" ] || echo "$to $from"
    done
done)
fails=0
if ! echo "$pairs" | tsort >/dev/null 2>"/tmp/axnn-tsort.$$"; then
    echo "FAIL: include cycle between folders:"; cat "/tmp/axnn-tsort.$$"; fails=1
fi
rm -f "/tmp/axnn-tsort.$$"
for rule in "graph:ops quant moe train study io data models axmul report" "ops:quant moe train study"; do
    folder=${rule%%:*}
    for bad in ${rule#*:}; do
        hits=$(grep -rlE "#include \"$bad/" "$SRC/$folder" 2>/dev/null)
        [ -z "$hits" ] || { echo "FAIL: src/$folder includes src/$bad: $hits"; fails=1; }
    done
done
[ $fails -eq 0 ] && echo "ok   folders depend downward only:" && echo "$pairs" | tsort | tr '\n' ' ' && echo
exit $fails
