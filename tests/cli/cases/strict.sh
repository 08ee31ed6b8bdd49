# strict schemas: init --strict, refusal naming the differences, persistence,
# making an existing collection strict, stats
zippy init s -c people --strict -q
x zippy put s -c people u1 '{"name":"Al","age":30,"addr":{"city":"Oslo"}}'
x zippy put s -c people u2 '{"age":31,"addr":{"city":"Rome"},"name":"Bo"}'
section "a different schema: exit 1, every difference named"
x zippy put s -c people u3 '{"name":"Cy","age":"old","addr":{"city":"X","zip":1}}'
has "Schema mismatch:" 'field "age" is string, the schema has number' 'unexpected field "addr.zip" (number)' '"u3"'
x zippy put s -c people u3 '{"name":"Cy"}'
has 'missing field "addr" (object)' 'missing field "age" (number)'
x zippy exists s -c people u3
section "import stops at the offending line"
printf '%s\n' '{"_id":"u4","name":"D","age":1,"addr":{"city":"c"}}' '{"_id":"u5","name":"E"}' > in.jsonl
x zippy import s -c people in.jsonl
has "line 2" "Schema mismatch"
x zippy count s -c people
section "the mode persists without --strict"
x zippy put s -c people u6 '{"x":1}'
has "Schema mismatch"
x zippy stats s -c people
section "an existing flexible collection with mixed documents cannot be made strict"
zippy put s -c mixed a '{"v":1}' -q
zippy put s -c mixed b '{"v":"s"}' -q
x zippy init s -c mixed --strict
has "cannot be made strict" '"a"' '"b"' 'field "v" is string, the schema has number'
x zippy put s -c mixed c '{"w":true}'
section "flexible stats count schemas"
x zippy stats s -c mixed
x zippy stats s -c mixed --json
section "uniform documents: made strict"
zippy delete s -c mixed b -q
zippy delete s -c mixed c -q
x zippy init s -c mixed --strict
x zippy put s -c mixed d '{"v":"s"}'
has "Schema mismatch"
x zippy stats s -c mixed --json
