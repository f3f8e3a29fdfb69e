# Writes the man page SRC as a C++ raw string literal into OUT, for `btap --man`.
file(READ ${SRC} TEXT)
file(WRITE ${OUT} "R\"btapman(${TEXT})btapman\"")
