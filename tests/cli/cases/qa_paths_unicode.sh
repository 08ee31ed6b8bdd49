# QA: store and archive paths with spaces and non-ASCII characters; ids
# of several scripts and the id length limit through the CLI.
st="my store é/日本 data"
x zippy put "$st" -c users 'Ωμέγα' '{"v":1}'
x zippy put "$st" -c users '日本語' '{"v":2}'
x zippy put "$st" -c users 'عربي' '{"v":3}'
x zippy put "$st" -c users 'a=b+c@d:e' '{"v":4}'
x zippy put "$st" -c users '😀' '{}'
has "invalid id"
a255=$(printf 'a%.0s' $(seq 255))
x zippy put "$st" -c users "$a255" '{"v":5}'
x zippy put "$st" -c users "${a255}a" '{}'
has "invalid id"
x zippy ids "$st" -c users | cut -c1-12
x zippy pack "$st" "the pack é.zds"
x zippy unpack "the pack é.zds" "un packed ü"
x zippy get "un packed ü" -c users '日本語'
x zippy verify "un packed ü"
grep '"name"' "$st/zds.json"
