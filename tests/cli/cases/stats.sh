# stats: human and --json.
zippy init s -q
zippy put s -c users a '{"v":1}' -q
zippy put s -c users b '{"v":2}' -q
zippy put s -c users a '{"v":3}' -q
zippy delete s -c users b -q
section "human"
x zippy stats s -c users > st.txt
cut -d: -f1 st.txt
grep -E '^(collection|documents|dead lines|layout|strict|legacy format):' st.txt
section "--json has every field"
x zippy stats s -c users --json > st.json
wc -l < st.json
for k in collection count log_bytes live_bytes dead_bytes log_lines dead_lines index_bytes indexed_bytes layout strict legacy; do
    grep -q "\"$k\":" st.json && echo "json has $k" || echo "json LACKS $k"
done
grep -o '"collection":"users","count":1,' st.json
grep -o '"layout":"jsonl","strict":false,"legacy":false}' st.json
section "numbers agree between both forms"
log=$(sed -n 's/^log bytes: *//p' st.txt)
grep -q "\"log_bytes\":$log," st.json && echo "log_bytes agree"
section "after compact: no dead lines"
zippy compact s -c users -q
zippy stats s -c users | grep -E '^(documents|dead lines|dead bytes):'
section "default collection, missing one"
x zippy stats s
has "default"
