#!/usr/bin/env python3
"""Differential parsing against stap: mutates real scripts token by token and compares
whether `btap -p1` and `stap -p1` accept each one. A manual tool (it needs Debian's
systemtap package, installed for comparison only), not part of the test suite.

usage: stap_p1.py BTAP [SEED] [CASES]
Disagreements are written to ./disagree_SEED_N.stp. Known, intended differences: stap
skips stray tokens inside @count(...)-style operators (btap reports them), and
conditions on `runtime` differ (btap's runtime is "bpf").
"""
import glob, os, random, re, subprocess, sys, tempfile

btap = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
cases = int(sys.argv[3]) if len(sys.argv) > 3 else 200
random.seed(seed)
root = os.path.dirname(os.path.abspath(__file__)) + '/../..'
seeds = [f for f in glob.glob(root + '/tests/golden/parse/*.stp') if 'arguments' not in f]
seeds += sorted(glob.glob('/usr/share/systemtap/examples/general/*.stp'))[:30]
tapsets = '/usr/share/systemtap/tapset'

# stap -p1 insists on a kernel build tree; an empty one is enough for parsing.
kbuild = tempfile.mkdtemp()
os.makedirs(kbuild + '/include/config')
open(kbuild + '/include/config/kernel.release', 'w').write(os.uname().release + '\n')
open(kbuild + '/.config', 'w').write('CONFIG_64BIT=y\n')
open(kbuild + '/Module.symvers', 'w').close()

token = re.compile(r'"(?:\\.|[^"\\\n])*"|%\{.*?%\}|#[^\n]*|//[^\n]*|/\*.*?\*/|<<<|>>>|<<=|>>=|'
                   r'[=!<>+\-*/%&^|.]=|&&|\|\||\+\+|--|->|<<|>>|=~|!~|%[(?:)]|'
                   r'\$\$?[A-Za-z_][A-Za-z0-9_$]*|@[A-Za-z_]\w*|[A-Za-z_]\w*|\d\w*|\s+|.', re.S)
vocab = ['(', ')', '{', '}', '[', ']', ';', ',', '.', '=', '+', '-', '*', '?', ':', '!', '&', 'in',
         'if', 'else', 'foreach', 'return', 'next', 'x', '1', '"s"', '$x', '->', '++', '<<<', 'probe',
         'global', '@count', '@hist_log', 'limit', '%(', '%?', '%)', '$', '@cast', '@entry', 'delete',
         'try', 'catch']
case = 'case%d.stp' % seed
disagree = 0
for i in range(cases):
    toks = token.findall(open(random.choice(seeds)).read())
    real = [j for j, t in enumerate(toks) if not t.isspace() and t[:1] != '#' and t[:2] not in ('//', '/*')]
    for _ in range(random.randint(1, 2)):
        j = random.choice(real)
        op = random.randrange(4)
        toks[j] = ['', toks[j] + ' ' + toks[j], ' %s ' % random.choice(vocab),
                   toks[j] + ' %s ' % random.choice(vocab)][op]
    open(case, 'w').write(''.join(toks))
    b = subprocess.run([btap, '-p1', '-g', '-I', tapsets, '-I', tapsets + '/linux', case],
                       capture_output=True, timeout=30).returncode
    s = subprocess.run(['stap', '-p1', '-g', '-r', kbuild, case], capture_output=True, timeout=120).returncode
    if (b == 0) != (s == 0):
        disagree += 1
        name = 'disagree_%d_%d.stp' % (seed, i)
        os.rename(case, name)
        print('btap %s, stap %s: %s' % ('accepts' if b == 0 else 'rejects', 'accepts' if s == 0 else 'rejects', name))
print('%d cases, %d disagreements' % (cases, disagree))
