# .zds archives opened in place: reads as on the directory, writes refused.
zippy init s --name demo -q
zippy put s -c users a '{"name":"A","age":30}' -q
zippy put s -c users b '{"name":"B","age":20}' -q
zippy put s -c orders o1 '{"total":9.5}' -q
x zippy pack s s.zds
x zippy pack s d.zds --deflate
for z in s.zds d.zds; do
    section "reads on $z"
    x zippy list $z
    x zippy count $z -c users
    x zippy get $z -c users a
    x zippy exists $z -c users b && echo exists
    x zippy ids $z -c users
    x zippy scan $z -c users --where '{"age":{"$gt":25}}'
    x zippy export $z -c orders
    x zippy stats $z -c users
    x zippy verify $z
done
section "zip -r with a top directory"
mkdir top && cp -r s top/store && (cd top && zip -qr ../top.zds store)
x zippy count top.zds -c users
x zippy get top.zds -c orders o1
section "writes refused: exit 1"
x zippy put s.zds -c users c '{"name":"C"}'
has "store s.zds is an archive opened in place: read-only"
x zippy delete s.zds -c users a
has "store s.zds is an archive opened in place: read-only"
echo '{"_id":"c","name":"C"}' > one.jsonl
x zippy import s.zds -c users one.jsonl
has "store s.zds is an archive opened in place: read-only"
x zippy compact s.zds -c users
has "store s.zds is an archive opened in place: read-only"
x zippy convert s.zds -c users --to files
has "store s.zds is an archive opened in place: read-only"
zippy count s -c users
section "hostile archive: exit 1"
mkdir h && ln -s /etc/passwd h/l && (cd h && zip -qy ../h.zds l)
x zippy list h.zds
has "h.zds" "symbolic links are not allowed"
section "files layout: opened in place"
zippy init f --layout files -q
zippy put f -c notes n2 '{"t":"two"}' -q
zippy put f -c notes n1 '{"t":"one"}' -q
x zippy pack f f.zds --deflate
x zippy scan f.zds -c notes
x zippy get f.zds -c notes n1
x zippy verify f.zds
x zippy put f.zds -c notes n3 '{"t":"three"}'
has "store f.zds is an archive opened in place: read-only"
