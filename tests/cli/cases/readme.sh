# The commands of the original ZDS README, exactly as written there.
x zippy init ./my_store
has "initialized store ./my_store"
x zippy put ./my_store -c users -i user_001 -d '{"name": "Alice"}'
x zippy put ./my_store -c users -i user_002 -d '{"name": "Bob", "age": 31}'
x zippy get ./my_store -c users -i user_001
x zippy scan ./my_store -c users -f name,age -l 10
x zippy stats ./my_store -c users > stats.txt
grep -E '^(collection|documents):' stats.txt
x zippy pack ./my_store ./my_store.zds
test -f ./my_store.zds && echo "archive written"
cp my_store.zds backup.zds
x zippy unpack ./backup.zds ./restored
x zippy get ./restored -c users -i user_002
