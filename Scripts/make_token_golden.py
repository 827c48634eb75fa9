#!/usr/bin/env python3
"""Golden token ids for the tokenizer and TelME-teacher-input tests, from transformers 4.27.2.

Writes (paths relative to the repository):
  Tests/TelmePipelineTests/Fixtures/token_golden/<csv stem>.txt
      every utterance of the six TelME CSVs, both speaker numberings (see FORMAT below);
  Tests/TelmeTokenizerTests/Fixtures/roberta_cases.json
      tricky strings and their ids with the real roberta vocabulary;
  Tests/TelmeTokenizerTests/Fixtures/tiny/{vocab.json,merges.txt,cases.json}
      a made-up 280-token vocabulary and the ids transformers gives on it.

Usage: /work/venv/bin/python Scripts/make_token_golden.py [--shared ../shared]

The teacher input is rebuilt here following the authors' code (MELD|IEMOCAP preprocessing.py
and utils.py): consecutive rows with the same Dialogue_ID form a dialogue; the speaker list is
emptied one row late ("official") or at the dialogue's first row ("dialogue"); row k's string is
"<sA> utt_0 <sB> utt_1 ... <sK> utt_k" stripped, + " </s> " + "Now <sK> feels"; ids =
convert_tokens_to_ids(tokenize(string))[-511:] + [mask id].

FORMAT of a golden file: '#' comment lines, then per dialogue a line "D <Dialogue_ID>" followed
by one line per utterance "<index in dialogue> <count>:<hash> <count>:<hash>|=" (official, then
dialogue numbering; '=' when both give the same ids). <count> is the number of ids, <hash> the
64-bit FNV-1a of the UTF-8 text of the ids joined by ',' (16 lowercase hex digits).
"""
import argparse
import csv
import json
import os
import sys

import transformers
from transformers import RobertaTokenizer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEAKER_TOKENS = ['<s%d>' % i for i in range(1, 10)]
CSVS = [
    ('meld', 'dev_meld_emo.csv'), ('meld', 'test_meld_emo.csv'), ('meld', 'train_meld_emo.csv'),
    ('iemocap', 'IEMOCAP_dev.csv'), ('iemocap', 'IEMOCAP_test.csv'), ('iemocap', 'IEMOCAP_train.csv'),
]


def telme_tokenizer(directory):
    tok = RobertaTokenizer.from_pretrained(directory)
    tok.add_special_tokens({'additional_special_tokens': SPEAKER_TOKENS})
    return tok


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode('utf-8'):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return '%016x' % h


def read_rows(path):
    """(dialogue, speaker, text) per data row, as the authors' csv.reader loop sees them."""
    with open(path, 'r', encoding='utf-8', newline='') as f:
        rows = list(csv.reader(f))
    header = rows[0]
    u, s, d = header.index('Utterance'), header.index('Speaker'), header.index('Dialogue_ID')
    return [(r[d], r[s], r[u]) for r in rows[1:]]


def speaker_numbers(rows, numbering):
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
    ids = cache.get(prompt)
    if ids is None:
        ids = tok.convert_tokens_to_ids(tok.tokenize(prompt)[-511:]) + [tok.mask_token_id]
        cache[prompt] = ids
    return ids


def write_golden(tok, shared, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for layout, name in CSVS:
        path = os.path.join(shared, 'data', layout, name)
        rows = read_rows(path)
        cache = {}
        per_mode = {m: [teacher_ids(tok, p, cache) for p in prompts(rows, m)] for m in ('official', 'dialogue')}
        lines = [
            '# %s (%s layout), %d utterances; made by Scripts/make_token_golden.py with transformers %s'
            % (name, layout, len(rows), transformers.__version__),
            '# "D <Dialogue_ID>", then "<index> <count>:<fnv1a64 of ids joined by ,> (official) '
            '<count>:<hash>|= (dialogue)"',
        ]
        previous, index = None, 0
        for k, (dialogue, _, _) in enumerate(rows):
            if dialogue != previous:
                lines.append('D ' + dialogue)
                index = 0
            else:
                index += 1
            previous = dialogue
            a, b = per_mode['official'][k], per_mode['dialogue'][k]
            ha = '%d:%s' % (len(a), fnv1a64(','.join(map(str, a))))
            hb = '=' if a == b else '%d:%s' % (len(b), fnv1a64(','.join(map(str, b))))
            lines.append('%d %s %s' % (index, ha, hb))
        stem = os.path.splitext(name)[0]
        with open(os.path.join(out_dir, stem + '.txt'), 'w', encoding='utf-8', newline='\n') as f:
            f.write('\n'.join(lines) + '\n')
        print('%s: %d utterances' % (name, len(rows)), file=sys.stderr)


# Strings that exercise pre-tokenisation, BPE, special-token matching and stripping.
CASES = [
    '<s1> also I was the point person on my companys transition. <s2> You mustve had your hands full.'
    ' </s> Now <s2> feels',
    '', ' ', '   ', '\n', 'Hello world', '  leading', 'trailing  ', 'a  b', 'a\t\tb', 'a \n b', 'x\n\ny',
    'x\r\ny', "it's I'M they'll 'S 'sand don't we've you're I'd", " 's", "''s", "'", "a'", 'hello123world',
    '12345 3.14 \u0661\u0662\u0663 \u00bd\u2160', 'caf\u00e9 na\u00efve', 'e\u0301t\u00e9', '\u65e5\u672c\u8a9e\u30c6\u30ad\u30b9\u30c8',
    '\U0001F600\U0001F44D\U0001F3FD ok', 'it\u0092s a \u0093quote\u0094', '\u00a0nbsp\u00a0 x', 'em\u2003space',
    '\x1c\x1dcontrols\x1f', 'ABC_def-ghi', '$100,000.00!!!', '...', '?!?!', '\ufffd', 'line\u2028sep', 'x\t', 'x \t',
    'x  ', '  x', 'Z\u00fcrich', 'a' * 300, 'ab' * 150, ' ' * 5 + 'x',
    # special tokens and their stripping
    '<s1>hi<s2>', '<s1> hi </s> Now <s1> feels', '<s10> is text', '<s0>', '<s>', '<s> x', 'x <s> y', 'a<mask>b',
    'a <mask> b', 'a  <mask>', '<mask>  b', '<pad><unk>', ' <pad> <unk> ', '<<s1>>', '<s<s1>', '</s</s>>', '<s1 >',
    ' <s1> ', '\u00a0<s1>\u00a0x', '\x1c<s1>\x1cx', '\u2003<s2>\u2003', 'x </s> y', 'x  </s>  y', '</s>', ' </s> ',
    '\U0001F600 <s3> \U0001F600', 'Now <s9> feels', '<s1><s2><s3>', '<s1> <s2>', '<s1>\n<s2>', '<s1> <mask> <s2>',
    '<s1>  <s2>  x', 'x <s1>', '<s1>', ' ', '<S1> <s1>', '<s11>', '<s1>1', '1<s1>', '<mask><mask>', ' <mask> ',
]

TINY_CASES = [
    'the hello', 'hello there', 'the the the', 'ab', 'aaa', 'aaaa', 'llo', 'hello<s1>the', 'x <s1> the </s> y',
    '<mask> the', 'the <mask>', 'caf\u00e9', '<s2>  aa  <s2>', ' ', 'ba ab', 'abab', 'hehe',
]


def dump_cases(path, head, cases):
    """One case per line, ASCII only."""
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(json.dumps(head)[:-1] + ', "cases": [\n')
        f.write(',\n'.join(json.dumps(c, ensure_ascii=True) for c in cases))
        f.write('\n]}\n')


def write_roberta_cases(tok, path):
    cases = [{'text': t, 'ids': tok.convert_tokens_to_ids(tok.tokenize(t))} for t in CASES]
    dump_cases(path, {'transformers': transformers.__version__}, cases)


def write_tiny(out_dir):
    """A made-up vocabulary: specials, the 256 byte characters, a few merges (one of whose
    results, 'llo', is deliberately missing so that it maps to <unk>), and <mask> last."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('\u00a1'), ord('\u00ac') + 1)) \
        + list(range(ord('\u00ae'), ord('\u00ff') + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_chars = [chr(c) for _, c in sorted(zip(bs, cs))]
    merges = ['\u0120 t', 'h e', '\u0120t he', 'l l', 'e ll', 'ell o', 'a a', 'aa a', 'a b', 'h ell', 'll o', 'b a',
              'he llo', '\u0120t h', 'x x y']
    vocab = {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3}
    for ch in byte_chars:
        vocab[ch] = len(vocab)
    for m in merges:
        parts = m.split()
        if len(parts) == 2 and parts[0] + parts[1] != 'llo' and parts[0] + parts[1] not in vocab:
            vocab[parts[0] + parts[1]] = len(vocab)
    vocab['<mask>'] = len(vocab)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + '\n'.join(merges) + '\n')
    tok = telme_tokenizer(out_dir)
    cases = [{'text': t, 'ids': tok.convert_tokens_to_ids(tok.tokenize(t)), 'tokens': tok.tokenize(t)}
             for t in TINY_CASES]
    dump_cases(os.path.join(out_dir, 'cases.json'), {'transformers': transformers.__version__, 'count': len(tok)},
               cases)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shared', default=os.path.join(REPO, '..', 'shared'))
    parser.add_argument('--skip-corpora', action='store_true', help='only the tokenizer fixtures')
    args = parser.parse_args()
    tok = telme_tokenizer(os.path.join(args.shared, 'tokenizers', 'roberta'))
    write_roberta_cases(tok, os.path.join(REPO, 'Tests/TelmeTokenizerTests/Fixtures/roberta_cases.json'))
    write_tiny(os.path.join(REPO, 'Tests/TelmeTokenizerTests/Fixtures/tiny'))
    if not args.skip_corpora:
        write_golden(tok, args.shared, os.path.join(REPO, 'Tests/TelmePipelineTests/Fixtures/token_golden'))


if __name__ == '__main__':
    main()
