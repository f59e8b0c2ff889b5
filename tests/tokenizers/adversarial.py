#!/usr/bin/python3
"""Writes deterministic adversarial texts for the tokenizer comparison (compare.sh) as JSON Lines
{"id", "group", "text"} to argv[1]. Groups: scripts, combining, emoji, digits, whitespace,
newlines, contractions, urls, code, long, control, specials, misc, single (one character each),
and unicode-version: letters and digits assigned after Unicode 14.0 (the tables of Debian's PCRE2
10.42), which the references classify by newer tables (tiktoken's Rust regex: 16.0, node's ICU:
17.0). compare.sh reports that group's differences as information, never as a failure.
The emoji group is written with \\uXXXX escapes (surrogate pairs), everything else as raw UTF-8.
No raw invalid UTF-8 is written: U+FFFD stands for repaired input, so the comparison tests the
tokenizer, not a repair policy.
"""
import base64, hashlib, json, sys

C = chr  # C(0x2028) reads better than an escape inside long literals


def pseudo(n, alphabet, seed):
    """n characters from alphabet, from a SHA-256 stream (deterministic, no random module)."""
    out, block, i = [], b"", 0
    while len(out) < n:
        block = hashlib.sha256(block + seed.encode() + i.to_bytes(4, "big")).digest()
        out.extend(alphabet[b % len(alphabet)] for b in block)
        i += 1
    return "".join(out[:n])


def blob(nbytes, seed):
    data, h = b"", seed.encode()
    while len(data) < nbytes:
        h = hashlib.sha256(h).digest()
        data += h
    return base64.b64encode(data[:nbytes]).decode()


GROUPS = {
    "scripts": [
        "The quick brown fox jumps over the lazy dog. Ça va? Größe, naïve café, Øresund, Łódź.",
        "Съешь же ещё этих мягких французских булок, да выпей чаю. ПРИВЕТ мир, Ёлка.",
        "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΑΒΓΔ αβγδ ς σ Σ.",
        "我能吞下玻璃而不伤身体。日本語のテキスト、カタカナとひらがな。𠀀𠀁𪜀 (CJK Ext B)",
        "أنا قادر على أكل الزجاج و هذا لا يؤلمني. ١٢٣٤٥٦٧٨٩٠ ۱۲۳",
        "मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती। १२३४५",
        "ฉันกินกระจกได้ แต่มันไม่ทำให้ฉันเจ็บ ๑๒๓๔",
        "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요. " + "\u1100\u1161\u11a8 (jamo)",
        "אני יכול לאכול זכוכית וזה לא מזיק לי. ᚠᛇᚻ᛫ᛒᛦᚦ ⠊⠀⠉⠁⠝ ქართული Հայերեն",
        "Hello Привет Γειά 你好 مرحبا नमस्ते สวัสดี 안녕하세요 — all in one line",
    ],
    "combining": [
        "e\u0301 vs \u00e9, A\u0308 vs \u00c4, n\u0303 vs \u00f1",
        "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f"
        "A\u0334\u0335\u031c\u0330\u0354\u036b\u0357\u0362L\u0320\u0368\u0367\u0369\u0358G\u0334"
        "\u033b\u0348\u034dO\u0311\u0357\u030e\u0305\u035b\u0301!",
        "\u0301leading mark, 1\u20e3 keycap mark, space \u0301 mark, x\u0301\u0302\u0303\u0304",
        "क्षत्रिय ज्ञ श्र (virama), ﬁ ﬂ ﬃ ligatures, \u212b \u212a \u2126 (U+212B U+212A U+2126)",
        "DÉJÀ VU déjà vu ÉCOLE École",
    ],
    "emoji": [
        "👍 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇺🇸🇯🇵🇩🇪 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f ❤️ ☺︎ 1️⃣ #️⃣ 🧑🏾‍💻",
        "😀😃😄😁😆😅🤣😂🙂🙃",
        "text😀text 🏻🏼🏽🏾🏿 🇺🇸🇯 lone regional",
        "I ❤ NY, ✂ ✈ ☎ ♻ ⚠ ⚡ ✅ ❌",
    ],
    "digits": [
        "".join(str(i % 10) for i in range(1000)),
        "9" * 1000,
        "3.14159265358979323846264338327950288419716939937510 1,000,000.00 1e-10 -0.5",
        "0x1F 0b1010 0o777 1_000_000 2024-01-02T03:04:05Z v1.2.3-rc4 192.168.0.1",
        "abc123def456 a1b2c3 123abc 12345678901234567890xyz x1y22z333w4444",
        "١٢٣ ๑๒๓ ①②③ ½ ¾ ¹²³ Ⅻ ⅷ 𝟘𝟙𝟚 ０１２３",
        "+1 (555) 123-4567, ISBN 978-3-16-148410-0, 1st 2nd 3rd 4th, 50% 3×4",
    ],
    "whitespace": [
        " " * 500,
        "\t" * 50,
        "a" + " " * 500 + "b",
        "   leading spaces",
        "trailing spaces   ",
        "  both  ",
        "\t\ttab indented\t",
        "x\u00a0y \u00a0 z\u00a0\u00a0",
        "".join(C(c) for c in range(0x2000, 0x200B)) + " en quad to hair space " + C(0x2009) + "x",
        "\u3000全角スペース\u3000\u3000x",
        "\u1680ogham\u1680space",
        "\u180emongolian\u180evowel\u180e separator",
        "line" + C(0x2028) + "sep" + C(0x2029) + "para",
        "\ufeffBOM at start",
        "mid\ufeffBOM, x \ufeffy, \ufeff \ufeff",
        "x \u0085y \u0085\u0085 NEL",
        "\u000b\u000c vertical tab, form feed \u000b",
        "\u200b zero width \u200c\u200d joiners \u2060 \u202f\u205f narrow spaces",
        " \t\u00a0\u2000\u3000\u1680\u180e\u2028\ufeff\u0085\u202f end",
        "a \t \n \r\n b",
    ],
    "newlines": [
        "a\r\nb\r\nc",
        "lone\rCR\rhere",
        "\r\n\r\n",
        "\n\r",
        "ends with CRLF\r\n",
        "mixed\n\r\n\r\n  \r\nfoo\n",
        "\n\n\nparagraph\n\n\n\n",
        "x\r",
        "a \n b \n\n c  \n\t\n",
    ],
    "contractions": [
        "DON'T don't Don't dON'T",
        "it'S they'LL I'M you'RE we'VE he'D She'd",
        "It'ſ ſ 'ſ ſtraße ß '\u212a 'k (ſ: long s, folds to s; K: Kelvin sign)",
        "'s's's 'S'T'RE '''s rock'n'roll 'tis o'clock O'NEIL",
        "it’s it‘s it＇s it`s it´s it ' s  's ''s DON’T",
        "HELLO'S Hello's hELLO'd CamelCase'LL",
    ],
    "urls": [
        "https://example.com/path/to/page?q=1&x=%20y#frag",
        "http://user:pass@host.example:8080/a/b/c.html?x[]=1&y={2}",
        "www.example.org/~user/ mailto:someone@example.com ftp://ftp.example.com/pub/f.tar.gz",
        '<a href="https://x.y/z?a=b">link</a> [md](https://example.com/(paren))',
    ],
    "code": [
        "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n"
        "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nprint(f\"{fib(10)=}\")\n",
        "#include <stdio.h>\n\nint main(int argc, char **argv) {\n\tfor (int i = 0; i < argc; ++i)\n"
        "\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\treturn 0;\n}\n",
        '{\n  "name": "cleanmix",\n  "version": [1, 2, 3],\n  "nested": {"a": null, "b": true,'
        ' "c": -1.5e+10},\n  "escaped": "line\\nbreak \\"quote\\" \\u00e9"\n}\n',
        "!function(e,t){\"object\"==typeof exports?module.exports=t():e.x=t()}(this,function(){"
        "var n={};return n.a=function(e){return e&&e.__esModule?e:{default:e}},n.b=[1,2,3]"
        ".map(x=>x*2).filter(Boolean),n});",
        "SELECT u.id, COUNT(*) AS n FROM users u LEFT JOIN orders o ON o.uid = u.id WHERE "
        "u.name LIKE '%o''brien%' GROUP BY 1 HAVING n > 2;\n  -- comment\n",
        "if [[ -n \"${FOO:-}\" ]]; then echo \"$((1 + 2))\" | sed -E 's/[0-9]+/<&>/g' >&2; fi",
        "    \t    mixed indentation\n\t    \n        \n",
    ],
    "long": [
        pseudo(20480, "abcdefghijklmnopqrstuvwxyz", "letters"),
        "a" * 5000,
        blob(3000, "base64"),
        "data:image/png;base64," + blob(600, "png") + " end",
        pseudo(4000, "ab ", "ab-space"),
    ],
    "control": [
        "\u0000",
        "a\u0000b\u0000\u0000c",
        "\u0001\u0002\u0003 \u001b[31mred\u001b[0m \u0007bell \u0008backspace",
        "\u007f DEL \u0080 \u009f C1 controls",
        "\ufffd",
        "bad \ufffd\ufffd bytes caf\ufffd \ufffd\ufffd\ufffd",
        "nonchar \uffff \ufffe private \ue000 \U000f0000",
    ],
    "specials": [
        "<|endoftext|>",
        "text<|endoftext|>more text",
        "<|begin_of_text|>Hello<|end_of_text|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "<|fim_prefix|>x<|fim_middle|>y<|fim_suffix|>z<|endofprompt|>",
        "<|reserved_special_token_0|> <s> </s> <unk> [CLS] [SEP] <pad>",
        "<|endoftext |> <|ENDOFTEXT|> <<|endoftext|>> < |endoftext| > <|endoftext",
    ],
    "misc": [
        "HTTPServerError iPhone McDonald's camelCase snake_case kebab-case SCREAMING_CASE",
        "İstanbul ıi İI ǅungla ǈ ǋ ᾈ ᾼ (titlecase)",
        "ＡＢＣ ａｂｃ fullwidth, 𝐀𝐁𝐂 𝑎𝑏𝑐 math, ﷺ ﷽",
        "...!!!??? ---- ==== **** ____ ~~~~ //// \\\\\\\\ ((((",
        "a/b/c\\d|e;f:g,h.i",
        "(((x))) [[y]] {{z}} <<w>>",
        "\"quoted\" 'single' «guillemets» „German“ 「Japanese」",
        "ʕ•ᴥ•ʔ ¯\\_(ツ)_/¯ (╯°□°)╯︵ ┻━┻",
        "Hello world",
        "hello world",
        " Hello world",
    ],
    "single": ["a", "A", "0", " ", "\n", "\r", "\t", "'", "!", "ß", "İ", "中", "😀", "\u00a0", "\u3000",
               "\u0301", "ſ", ""],
    "unicode-version": [
        "\U00011f04's \U00011f04\U00011f05\U00011f06'S Kawi (15.0)",
        "\U00011f50\U00011f51\U00011f52\U00011f53\U00011f54 Kawi digits (15.0)",
        "\U0001e4d0\U0001e4d1's Nag Mundari (15.0)",
        "\U0002ebf0\U0002ebf1's CJK Ext I (15.1)",
        "\U000105c0\U000105c1's Todhri (16.0)",
        "\U00016100\U00016101's Gurung Khema (16.0)",
        "\U00010d40\U00010d41\U00010d42\U00010d43 Garay digits (16.0)",
        "\U0001e6c0\U0001e6c1's (17.0)",
        "\u0295's \u0295 (U+0295: Ll before 17.0, Lo since)",
    ],
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: adversarial.py OUT.jsonl")
    n = 0
    with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
        for group, texts in GROUPS.items():
            for i, text in enumerate(texts):
                rec = {"id": f"adv-{group}-{i:02d}", "group": group, "text": text}
                f.write(json.dumps(rec, ensure_ascii=(group == "emoji")) + "\n")
                n += 1
    print(f"adversarial.py: {n} texts -> {sys.argv[1]}")


if __name__ == "__main__":
    main()
