# QA: docs/FORMAT.md section 1 says "Unknown keys in zds.json are kept",
# and a library must not silently downgrade a store written by a newer one.
section "unknown keys survive a write"
zippy put s -c a k1 '{}' -q
add_keys() {
    python3 -c '
import json
d = json.load(open("s/zds.json")); d["custom"] = {"keep": "me"}; d["tags"] = ["x"]
json.dump(d, open("s/zds.json", "w"), indent=2)'
}
add_keys
zippy put s -c a k2 '{}' -q
grep -q '"custom"' s/zds.json && echo '"custom" kept: yes' || echo '"custom" kept: NO'
grep -q '"tags"' s/zds.json && echo '"tags" kept: yes' || echo '"tags" kept: NO'
add_keys
zippy init s --name renamed -q
grep -q '"custom"' s/zds.json && echo '"custom" kept by init --name: yes' || echo '"custom" kept by init --name: NO'
section "a zds.json of format_version 2 is not rewritten as version 1"
zippy put n -c a k1 '{}' -q
sed -i 's/"format_version": 1/"format_version": 2/' n/zds.json
zippy put n -c a k2 '{}' -q 2> /dev/null
grep -q '"format_version": 2' n/zds.json && echo "still version 2 (or the write was refused): yes" || echo "still version 2: NO (downgraded to $(grep -o '"format_version": [0-9]*' n/zds.json))"
