# lib-model-configs.sh — the tiny model configs every model test runs: both
# families and each ablation switch, V = 100 (padded to 128) so the padding
# shows. One list, so a switch added here reaches every parity test.
#
#   write_model_configs     writes NAME.json for each of the 16 into .

model_gpt2='"family":"gpt2","n_layer":2,"d_model":32,"n_head":4,"vocab_size":100,"ctx":16'
model_llama='"family":"llama","n_layer":2,"d_model":48,"n_head":4,"d_ff":72,"vocab_size":100,"ctx":16'

# name, then the JSON config
model_configs='
gpt2		{GPT2}
gpt2-post	{GPT2,"norm":"post"}
gpt2-nonorm	{GPT2,"norm":"none"}
gpt2-rope	{GPT2,"positions":"rope"}
gpt2-nopos	{GPT2,"positions":"none"}
gpt2-swiglu	{GPT2,"mlp":"swiglu"}
gpt2-silu	{GPT2,"mlp":"silu"}
gpt2-untied-nobias	{GPT2,"tied_head":false,"bias":false}
llama		{LLAMA}
llama-post	{LLAMA,"norm":"post"}
llama-nonorm	{LLAMA,"norm":"none"}
llama-learned	{LLAMA,"positions":"learned"}
llama-nopos	{LLAMA,"positions":"none"}
llama-gelu	{LLAMA,"mlp":"gelu"}
llama-silu	{LLAMA,"mlp":"silu"}
llama-tied-bias	{LLAMA,"tied_head":true,"bias":true,"rope_theta":500.0}
'
model_config_count=16

write_model_configs() {
	echo "$model_configs" | while read -r name json; do
		test -n "$name" || continue
		echo "$json" | sed "s/GPT2/$model_gpt2/; s/LLAMA/$model_llama/" >"$name.json" || exit 1
	done &&
	test "$(ls *.json | wc -l)" = "$model_config_count"
}
