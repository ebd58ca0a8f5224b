# Copyright (c) Meta Platforms, Inc. and affiliates.
# This software may be used and distributed according to the terms of the Llama 2 Community License Agreement.

from llama_cookbook.configs.peft import lora_config, llama_adapter_config, prefix_config
from llama_cookbook.configs.fsdp import fsdp_config
from llama_cookbook.configs.training import train_config
from llama_cookbook.configs.wandb import wandb_config
from llama_cookbook.configs.quantization import quantization_config
