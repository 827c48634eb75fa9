"""The TelME teacher's input as the authors build it (MELD|IEMOCAP preprocessing.py and utils.py),
with transformers' RobertaTokenizer: the speaker tokens, the speaker numbering, the prompt string
of every utterance and its ids."""
import csv

from transformers import RobertaTokenizer

SPEAKER_TOKENS = ['<s%d>' % i for i in range(1, 10)]


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def telme_tokenizer(directory):
    """RoBERTa's tokenizer from `directory` (vocab.json, merges.txt) with the nine speaker tokens."""
    tok = RobertaTokenizer.from_pretrained(directory)
    tok.add_special_tokens({'additional_special_tokens': SPEAKER_TOKENS})
    return tok


def read_rows(path):
    """(dialogue, speaker, text) per data row, as the authors' csv.reader loop sees them."""
    with open(path, 'r', encoding='utf-8', newline='') as f:
        rows = list(csv.reader(f))
    header = rows[0]
    u, s, d = header.index('Utterance'), header.index('Speaker'), header.index('Dialogue_ID')
    return [(r[d], r[s], r[u]) for r in rows[1:]]


def speaker_numbers(rows, numbering):
    """Each row's speaker number (from 0). The speaker list is emptied at a dialogue's first row
    ("dialogue") or one row late, as the authors' code does ("official")."""
    numbers, names, previous = [], [], None
    for dialogue, speaker, _ in rows:
        starts = previous is not None and dialogue != previous
        if starts and numbering == 'dialogue':
            names = []
        if speaker not in names:
            names.append(speaker)
        numbers.append(names.index(speaker))
        if starts and numbering == 'official':
            names = []
        previous = dialogue
    return numbers


def prompts(rows, numbering):
    """Row k's teacher string: "<sA> utt_0 <sB> utt_1 ... <sK> utt_k" stripped, + " </s> Now <sK> feels"."""
    numbers = speaker_numbers(rows, numbering)
    out, context, previous = [], '', None
    for (dialogue, _, text), number in zip(rows, numbers):
        if dialogue != previous:
            context = ''
        context += '<s' + str(number + 1) + '> ' + text + ' '
        out.append(context.strip() + ' ' + '</s>' + ' ' + 'Now <s' + str(number + 1) + '> feels')
        previous = dialogue
    return out


def teacher_ids(tok, prompt, cache):
    """The teacher's ids for `prompt`: the last 511 tokens, then <mask> (memoised in `cache`)."""
    ids = cache.get(prompt)
    if ids is None:
        ids = tok.convert_tokens_to_ids(tok.tokenize(prompt)[-511:]) + [tok.mask_token_id]
        cache[prompt] = ids
    return ids


