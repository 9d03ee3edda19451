#!/usr/bin/env bash
# The layering of include/t5, checked on every include: a folder includes only itself and the
# folders below it, in the order data flows through them:
#   core  <-  config  <-  io, cpu, cuda  <-  model  <-  generation  <-  t5/*.hpp (facade)
#                          io  <-  tokenizer (it reads the tokenizer a GGUF file carries)
# Argument: the t5cc source root.
set -euo pipefail
cd "$1/include/t5"
declare -A below=(
  [core]=""
  [config]="core"
  [io]="core config"
  [tokenizer]="core config io"
  [cpu]="core"
  [cuda]="core"
  [model]="core config io cpu cuda"
  [generation]="core config io cpu cuda model"
)
status=0
for dir in "${!below[@]}"; do
  while IFS=: read -r file line target; do
    to=${target%%/*}
    [ "$to" = "$dir" ] && continue
    case " ${below[$dir]} " in *" $to "*) continue ;; esac
    echo "include/t5/$file:$line includes t5/$target, which is not below $dir/"
    status=1
  done < <(grep -Hn '#include "t5/' "$dir"/*.hpp | sed -E 's|^([^:]*):([0-9]+):#include "t5/([^"]*)".*|\1:\2:\3|')
done
[ "$status" -eq 0 ] && echo "layers: OK (${!below[*]})"
exit $status
