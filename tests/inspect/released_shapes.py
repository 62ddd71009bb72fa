"""Configs of released models, written from their published config.json files and papers (vocabularies and
shapes as released), for the table-driven inspector tests."""

from __future__ import annotations

LLAMA_3_1_8B = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_theta": 500000.0, "torch_dtype": "bfloat16",
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192},
}
# a Llama fine-tune whose config carries a sliding_window that Llama's code never reads
LLAMA_STRAY_WINDOW = {**LLAMA_3_1_8B, "num_hidden_layers": 2, "sliding_window": 4096}
MISTRAL_7B_V01 = {
    "model_type": "mistral", "architectures": ["MistralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
    "max_position_embeddings": 32768, "rope_theta": 10000.0, "sliding_window": 4096, "torch_dtype": "bfloat16",
}
QWEN2_5_7B = {
    "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 3584, "intermediate_size": 18944,
    "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
    "max_position_embeddings": 32768, "rope_theta": 1000000.0, "sliding_window": 131072, "use_sliding_window": False,
    "max_window_layers": 28, "torch_dtype": "bfloat16",
}
QWEN3_0_6B = {
    "model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "hidden_size": 1024, "intermediate_size": 3072,
    "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
    "vocab_size": 151936, "max_position_embeddings": 40960, "rope_theta": 1000000.0, "tie_word_embeddings": True,
    "sliding_window": None, "use_sliding_window": False, "torch_dtype": "bfloat16",
}
GEMMA_2_9B = {
    "model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": 3584, "intermediate_size": 14336,
    "num_hidden_layers": 42, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256,
    "vocab_size": 256000, "max_position_embeddings": 8192, "sliding_window": 4096, "attn_logit_softcapping": 50.0,
    "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 256, "torch_dtype": "float32",
}
GEMMA_3_4B_TEXT = {
    "model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "hidden_size": 2560,
    "intermediate_size": 10240, "num_hidden_layers": 34, "num_attention_heads": 8, "num_key_value_heads": 4,
    "head_dim": 256, "vocab_size": 262208, "max_position_embeddings": 131072, "sliding_window": 1024,
    "sliding_window_pattern": 6, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
    "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "query_pre_attn_scalar": 256, "torch_dtype": "bfloat16",
}
DEEPSEEK_V3 = {
    "model_type": "deepseek_v3", "architectures": ["DeepseekV3ForCausalLM"], "hidden_size": 7168,
    "intermediate_size": 18432, "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
    "num_key_value_heads": 128, "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
    "first_k_dense_replace": 3, "n_group": 8, "topk_group": 4, "kv_lora_rank": 512, "q_lora_rank": 1536,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 129280,
    "max_position_embeddings": 163840, "rope_theta": 10000, "torch_dtype": "bfloat16",
    "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32,
                     "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
}
DEEPSEEK_V2_LITE = {
    "model_type": "deepseek_v2", "architectures": ["DeepseekV2ForCausalLM"], "hidden_size": 2048,
    "intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 27, "num_attention_heads": 16,
    "num_key_value_heads": 16, "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6,
    "first_k_dense_replace": 1, "kv_lora_rank": 512, "q_lora_rank": None, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 102400, "max_position_embeddings": 163840,
    "rope_theta": 10000, "torch_dtype": "bfloat16", "topk_method": "greedy", "n_group": 1, "topk_group": 1,
    "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32,
                     "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
}
LLAMA_4_SCOUT_TEXT = {
    "model_type": "llama4_text", "architectures": ["Llama4ForCausalLM"], "hidden_size": 5120,
    "intermediate_size": 8192, "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 202048, "max_position_embeddings": 10485760,
    "attention_chunk_size": 8192, "num_local_experts": 16, "interleave_moe_layer_step": 1, "rope_theta": 500000.0,
    "no_rope_layer_interval": 4, "use_qk_norm": True, "torch_dtype": "bfloat16",
    "rope_scaling": {"rope_type": "llama3", "factor": 16.0, "low_freq_factor": 1.0, "high_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192},
}
MIXTRAL_8X7B = {
    "model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "num_local_experts": 8,
    "num_experts_per_tok": 2, "vocab_size": 32000, "max_position_embeddings": 32768, "rope_theta": 1000000.0,
    "sliding_window": None, "torch_dtype": "bfloat16",
}
FALCON_7B = {
    "model_type": "falcon", "architectures": ["FalconForCausalLM"], "hidden_size": 4544, "num_hidden_layers": 32,
    "num_attention_heads": 71, "multi_query": True, "new_decoder_architecture": False, "alibi": False,
    "parallel_attn": True, "bias": False, "vocab_size": 65024, "torch_dtype": "bfloat16",
}
FALCON_40B = {
    "model_type": "falcon", "architectures": ["FalconForCausalLM"], "hidden_size": 8192, "num_hidden_layers": 60,
    "num_attention_heads": 128, "num_kv_heads": 8, "new_decoder_architecture": True, "alibi": False,
    "parallel_attn": True, "bias": False, "vocab_size": 65024, "torch_dtype": "bfloat16",
}
BLOOM_560M = {
    "model_type": "bloom", "architectures": ["BloomForCausalLM"], "hidden_size": 1024, "n_layer": 24, "n_head": 16,
    "vocab_size": 250880,
}
MPT_7B = {
    "model_type": "mpt", "architectures": ["MptForCausalLM"], "d_model": 4096, "n_heads": 32, "n_layers": 32,
    "max_seq_len": 2048, "vocab_size": 50432, "expansion_ratio": 4,
    "attn_config": {"alibi": True, "attn_type": "multihead_attention", "qk_ln": False, "clip_qkv": None},
}
GPT2 = {
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "n_head": 12, "n_layer": 12,
    "n_positions": 1024, "n_ctx": 1024, "vocab_size": 50257,
}
BERT_BASE = {
    "model_type": "bert", "architectures": ["BertModel"], "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "vocab_size": 30522,
    "type_vocab_size": 2, "pad_token_id": 0,
}
ROBERTA_BASE = {
    "model_type": "roberta", "architectures": ["RobertaForMaskedLM"], "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 514, "vocab_size": 50265,
    "type_vocab_size": 1, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
}
T5_BASE = {
    "model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "d_model": 768, "d_kv": 64, "d_ff": 3072,
    "num_layers": 12, "num_heads": 12, "vocab_size": 32128, "relative_attention_num_buckets": 32,
}
BART_LARGE = {
    "model_type": "bart", "architectures": ["BartForConditionalGeneration"], "d_model": 1024, "encoder_layers": 12,
    "decoder_layers": 12, "encoder_attention_heads": 16, "decoder_attention_heads": 16,
    "max_position_embeddings": 1024, "vocab_size": 50265, "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096,
}
WHISPER_SMALL = {
    "model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"], "d_model": 768,
    "encoder_layers": 12, "decoder_layers": 12, "encoder_attention_heads": 12, "decoder_attention_heads": 12,
    "max_source_positions": 1500, "max_target_positions": 448, "num_mel_bins": 80, "vocab_size": 51865,
}
MAMBA_130M = {
    "model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": 768, "num_hidden_layers": 24,
    "state_size": 16, "expand": 2, "conv_kernel": 4, "vocab_size": 50280,
}
JAMBA_V01 = {
    "model_type": "jamba", "architectures": ["JambaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "attn_layer_period": 8,
    "attn_layer_offset": 4, "expert_layer_period": 2, "expert_layer_offset": 1, "num_experts": 16,
    "num_experts_per_tok": 2, "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "vocab_size": 65536,
    "max_position_embeddings": 262144, "torch_dtype": "bfloat16",
}
RECURRENT_GEMMA_2B = {
    "model_type": "recurrent_gemma", "architectures": ["RecurrentGemmaForCausalLM"], "hidden_size": 2560,
    "intermediate_size": 15360, "num_hidden_layers": 26, "num_attention_heads": 10, "num_key_value_heads": 1,
    "lru_width": 2560, "attention_window_size": 2048, "conv1d_width": 4, "vocab_size": 256000,
    "block_types": ["recurrent", "recurrent", "attention"], "partial_rotary_factor": 0.5, "torch_dtype": "bfloat16",
}
QWEN3_NEXT_80B = {
    "model_type": "qwen3_next", "architectures": ["Qwen3NextForCausalLM"], "hidden_size": 2048,
    "intermediate_size": 5120, "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
    "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 256,
    "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
    "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "full_attention_interval": 4, "num_experts": 512,
    "num_experts_per_tok": 10, "vocab_size": 151936, "max_position_embeddings": 262144, "rope_theta": 10000000,
    "partial_rotary_factor": 0.25, "torch_dtype": "bfloat16",
}
LLAVA_1_5_7B = {
    "model_type": "llava", "architectures": ["LlavaForConditionalGeneration"], "image_token_index": 32000,
    "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096,
                      "num_hidden_layers": 24, "num_attention_heads": 16, "image_size": 336, "patch_size": 14,
                      "projection_dim": 768},
    "text_config": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                    "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064,
                    "max_position_embeddings": 4096},
    "torch_dtype": "float16",
}
GEMMA_3N_E2B_TEXT = {
    "model_type": "gemma3n_text", "architectures": ["Gemma3nForCausalLM"], "hidden_size": 2048,
    "intermediate_size": 8192, "num_hidden_layers": 30, "num_attention_heads": 8, "num_key_value_heads": 2,
    "head_dim": 256, "sliding_window": 512, "num_kv_shared_layers": 10, "vocab_size": 262400,
    "vocab_size_per_layer_input": 262144, "hidden_size_per_layer_input": 256, "max_position_embeddings": 32768,
    "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 6, "torch_dtype": "bfloat16",
}
LONGFORMER_BASE = {
    "model_type": "longformer", "architectures": ["LongformerModel"], "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "attention_window": [512] * 12,
    "max_position_embeddings": 4098, "vocab_size": 50265, "pad_token_id": 1,
}
BIGBIRD_ROBERTA_BASE = {
    "model_type": "big_bird", "architectures": ["BigBirdModel"], "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "attention_type": "block_sparse", "block_size": 64,
    "num_random_blocks": 3, "max_position_embeddings": 4096, "vocab_size": 50358, "pad_token_id": 0,
}
GPT_OSS_20B = {
    "model_type": "gpt_oss", "architectures": ["GptOssForCausalLM"], "hidden_size": 2880, "intermediate_size": 2880,
    "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
    "num_local_experts": 32, "num_experts_per_tok": 4, "sliding_window": 128, "vocab_size": 201088,
    "max_position_embeddings": 131072, "rope_theta": 150000,
    "layer_types": ["sliding_attention", "full_attention"] * 12,
    "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                     "original_max_position_embeddings": 4096}, "torch_dtype": "bfloat16",
}
PHI_3_MINI_128K = {
    "model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "hidden_size": 3072, "intermediate_size": 8192,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064,
    "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "rope_theta": 10000.0,
    "sliding_window": 262144, "pad_token_id": 32000, "torch_dtype": "bfloat16",
    "rope_scaling": {"type": "longrope", "long_factor": [1.0] * 48, "short_factor": [1.0] * 48},
}
PHI_2 = {
    "model_type": "phi", "architectures": ["PhiForCausalLM"], "hidden_size": 2560, "intermediate_size": 10240,
    "num_hidden_layers": 32, "num_attention_heads": 32, "partial_rotary_factor": 0.4, "vocab_size": 51200,
    "max_position_embeddings": 2048, "rope_theta": 10000.0,
}
SMOLLM3_3B = {
    "model_type": "smollm3", "architectures": ["SmolLM3ForCausalLM"], "hidden_size": 2048, "intermediate_size": 11008,
    "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 4, "vocab_size": 128256,
    "max_position_embeddings": 65536, "rope_theta": 5000000.0, "no_rope_layer_interval": 4, "use_sliding_window": False,
    "torch_dtype": "bfloat16",
}
VIT_BASE = {
    "model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "image_size": 224, "patch_size": 16,
}
