"""The local transport: a model directory loaded with transformers, for the GPU worker.

Optional (``requirements/model.txt``: torch and transformers are not part of the base install).
Weights load only from ``ABLAGE_MODEL_DIR`` (``local_files_only``), never from a hub. Without a
GPU the transport refuses unless ``ABLAGE_MODEL_ALLOW_CPU`` is set (tiny models, trying it out).
Prompts are rendered with the model's own chat template and decoded greedily; ``complete_batch``
runs several conversations in one ``generate`` call with left padding, so each row's new tokens
start at the same column.
"""

import hashlib
import threading
from pathlib import Path

from django.utils.translation import gettext as _

from extraction.llm.transport import Completion, ModelRequestError, TransientModelError

DEFAULT_BATCH_SIZE = 4

_loaded: dict[str, tuple] = {}
_load_lock = threading.Lock()


def unavailable_reason(model_dir: str, *, allow_cpu: bool) -> str:
    """Why the local model cannot run here, in German; ``""`` when it can."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return _("torch und transformers sind nicht installiert (requirements/model.txt).")
    if not (Path(model_dir) / "config.json").is_file():
        return _("Im Modellordner %(dir)s fehlt config.json.") % {"dir": model_dir}
    if not allow_cpu and not _cuda_available():
        return _("Keine GPU verfügbar (ABLAGE_MODEL_ALLOW_CPU ist aus).")
    return ""


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def model_version(model_dir: str) -> str:
    """Directory name plus a digest of its config: a changed model is a different cache key."""
    config = (Path(model_dir) / "config.json").read_bytes()
    return f"{Path(model_dir).name}@{hashlib.sha256(config).hexdigest()[:12]}"


class LocalTransport:
    name = "local"

    def __init__(self, model_dir: str, *, max_new_tokens: int = 800, batch_size: int = DEFAULT_BATCH_SIZE):
        self.model_dir = str(model_dir)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size

    def _load(self):
        with _load_lock:
            if self.model_dir not in _loaded:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                device = "cuda" if torch.cuda.is_available() else "cpu"
                tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                # Left padding: in a batch, every prompt ends where generation starts.
                tokenizer.padding_side = "left"
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token
                model = AutoModelForCausalLM.from_pretrained(
                    self.model_dir,
                    local_files_only=True,
                    torch_dtype=torch.float16 if device == "cuda" else torch.float32,
                )
                model.to(device).eval()
                _loaded[self.model_dir] = (tokenizer, model, device)
            return _loaded[self.model_dir]

    def complete(self, messages: list) -> Completion:
        return self.complete_batch([messages])[0]

    def complete_batch(self, conversations: list[list]) -> list[Completion]:
        """One completion per conversation, ``batch_size`` conversations per ``generate`` call."""
        import torch

        tokenizer, model, device = self._load()
        prompts = [
            tokenizer.apply_chat_template(_text_only(messages), tokenize=False, add_generation_prompt=True)
            for messages in conversations
        ]
        completions = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            encoded = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            try:
                with torch.inference_mode():
                    output = model.generate(
                        input_ids=encoded["input_ids"],
                        attention_mask=encoded["attention_mask"],
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.eos_token_id,
                    )
            except torch.cuda.OutOfMemoryError as exc:
                raise TransientModelError(_("Der GPU ist der Speicher ausgegangen.")) from exc
            except (RuntimeError, ValueError) as exc:
                raise ModelRequestError(
                    _("Das lokale Modell konnte nicht rechnen: %(error)s") % {"error": exc}
                ) from exc
            new_tokens = output[:, encoded["input_ids"].shape[1] :]
            for row, prompt_mask in zip(new_tokens, encoded["attention_mask"], strict=True):
                generated = _until_eos(row.tolist(), tokenizer.eos_token_id)
                completions.append(
                    Completion(
                        content=tokenizer.decode(generated, skip_special_tokens=True),
                        prompt_tokens=int(prompt_mask.sum()),
                        completion_tokens=len(generated),
                        model=model_version(self.model_dir),
                    )
                )
        return completions


def _text_only(messages: list) -> list:
    """Chat messages with image parts dropped: the local transport reads text only."""
    plain = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = "\n".join(part["text"] for part in content if part.get("type") == "text")
        plain.append({"role": message["role"], "content": content})
    return plain


def _until_eos(tokens: list[int], eos_id) -> list[int]:
    """The generated tokens up to (without) the end-of-sequence token; in a batch, padding follows it."""
    for index, token in enumerate(tokens):
        if token == eos_id:
            return tokens[:index]
    return tokens
