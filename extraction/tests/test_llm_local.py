"""The local transport with a tiny model built here from a config with random weights (no download).

Skipped, with the reason, where torch and transformers are not installed (``requirements/model.txt``).
"""

import pytest

torch = pytest.importorskip("torch", reason="torch ist nicht installiert (requirements/model.txt)")
transformers = pytest.importorskip("transformers", reason="transformers ist nicht installiert (requirements/model.txt)")

from extraction.llm.local import LocalTransport, model_version  # noqa: E402
from extraction.llm.prompt import build_messages  # noqa: E402
from extraction.llm.services import model_available, model_run_execute  # noqa: E402
from extraction.models import ModelRun  # noqa: E402
from extraction.tests.model_server import INVOICE_LINES, invoice_document  # noqa: E402

CHAT_TEMPLATE = (
    "{% for message in messages %}<s>{{ message['role'] }}: {{ message['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant: {% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A byte-level BPE tokenizer trained on invoice words and a two-layer Llama with random weights."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-model")
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(
        [" ".join(INVOICE_LINES) * 20, '{"invoice_number": "RE-1", "total_amount": "1,00"}'] * 5, trainer
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    torch.manual_seed(15)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return str(folder)


def test_it_loads_batches_and_decodes_like_single_requests(tiny_model_dir):
    transport = LocalTransport(tiny_model_dir, max_new_tokens=12, batch_size=2)
    short = build_messages("Rechnung Nr. RE-1", document_type="invoice", token="0" * 16)
    long = build_messages("\n".join(INVOICE_LINES), document_type="invoice", token="1" * 16)

    batch = transport.complete_batch([short, long, short])  # two generate calls: 2 + 1
    alone = [transport.complete(short), transport.complete(long)]

    assert all(completion.content for completion in alone)  # random weights still write something
    assert [completion.content for completion in batch] == [alone[0].content, alone[1].content, alone[0].content]
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    for completion, messages in zip(batch, [short, long, short], strict=True):
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert completion.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert 0 < completion.completion_tokens <= 12
        assert completion.model == model_version(tiny_model_dir)
    assert batch[1].prompt_tokens > batch[0].prompt_tokens  # the short one was left-padded, not counted padded


@pytest.mark.django_db
def test_a_run_with_the_local_model_records_its_tokens_and_refuses_its_random_output(owner, settings, tiny_model_dir):
    settings.ABLAGE_MODEL_URL = ""
    settings.ABLAGE_MODEL_DIR = tiny_model_dir
    settings.ABLAGE_MODEL_ALLOW_CPU = True
    settings.ABLAGE_MODEL_MAX_OUTPUT_TOKENS = 16
    document = invoice_document(owner)
    run = ModelRun.objects.create(document=document, trigger=ModelRun.Trigger.ON_DEMAND)

    run = model_run_execute(run_id=run.id)

    # Random weights write no JSON object: the answer is refused and no field changes.
    assert run.status == ModelRun.Status.INVALID_OUTPUT, run.message
    assert run.prompt_tokens > 100 and 0 < run.completion_tokens <= 16
    assert run.model_name == model_version(tiny_model_dir)
    assert sorted(document.fields.values_list("name", flat=True)) == ["invoice_number", "total_amount"]


def test_without_a_gpu_it_reports_itself_unavailable_unless_cpu_is_allowed(settings, tiny_model_dir):
    settings.ABLAGE_MODEL_URL = ""
    settings.ABLAGE_MODEL_DIR = tiny_model_dir
    settings.ABLAGE_MODEL_ALLOW_CPU = False
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")

    assert not model_available()
    settings.ABLAGE_MODEL_ALLOW_CPU = True
    assert model_available()


def test_a_folder_without_a_model_is_unavailable(settings, tmp_path):
    settings.ABLAGE_MODEL_URL = ""
    settings.ABLAGE_MODEL_DIR = str(tmp_path)
    settings.ABLAGE_MODEL_ALLOW_CPU = True

    assert not model_available()
