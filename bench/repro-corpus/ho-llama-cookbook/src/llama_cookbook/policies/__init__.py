# Copyright (c) Meta Platforms, Inc. and affiliates.
# This software may be used and distributed according to the terms of the Llama 2 Community License Agreement.

from llama_cookbook.policies.mixed_precision import *
from llama_cookbook.policies.wrapping import *
from llama_cookbook.policies.activation_checkpointing_functions import apply_fsdp_checkpointing
from llama_cookbook.policies.anyprecision_optimizer import AnyPrecisionAdamW
