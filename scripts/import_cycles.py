#!/usr/bin/env python3
"""Import circles among src/ files (a file naming crate::X or super::X of another file):
each circle found, one per line. The SQL expression tree (sql::expr, sql::func) is the
one allowed. Usage: scripts/import_cycles.py (from the repository root)."""
import os,re,sys
from collections import defaultdict
root='src'
files={}
for dp,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(dp,f)
            mod=p[4:-3].replace('/','::')
            if mod.endswith('::mod'): mod=mod[:-5]
            if mod in('lib','main'): continue
            files[mod]=open(p).read()
mods=set(files)
def top(m): return m.split('::')[0]
# module-level granularity: top-level module (ops, sink, source, ...) except split big ones to their file modules
g=defaultdict(set)
for m,src in files.items():
    # strip test modules
    src=src.split('#[cfg(test)]')[0]
    for ref in re.findall(r'crate::((?:[a-z_0-9]+::)*[a-z_0-9]+)',src):
        parts=ref.split('::')
        # find longest prefix that is a module
        target=None
        for i in range(len(parts),0,-1):
            cand='::'.join(parts[:i])
            if cand in mods: target=cand;break
        if target and target!=m and not m.startswith(target+'::') :
            g[m].add(target)
    # super:: refs
    for ref in re.findall(r'super::((?:[a-z_0-9]+::)*[a-z_0-9]+)',src):
        parent='::'.join(m.split('::')[:-1]) if not files[m] is None else ''
        base=m.split('::')[:-1]
        parts=base+ref.split('::')
        for i in range(len(parts),0,-1):
            cand='::'.join(parts[:i])
            if cand in mods and cand!=m: g[m].add(cand);break
# find SCCs
index={};low={};st=[];on=set();res=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in g[v]:
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(sorted(comp))
for v in list(files):
    if v not in index: sc(v)
allowed = [['sql::expr', 'sql::func']]
bad = [r for r in res if r not in allowed]
for r in res:
    print(('allowed: ' if r in allowed else 'circle: ') + ' <-> '.join(r))
sys.exit(1 if bad else 0)
