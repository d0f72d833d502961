"""Common passwords and the words they are built from (弱口令字典).

Why a word list and not only a complexity rule: ``Password1``, ``P@ssw0rd`` and ``Qwerty123``
pass "3 of 4 character classes" and are the first guesses of every password sprayer. The
check in ``service.check_password_policy`` lower-cases the candidate, undoes the usual
letter-for-symbol swaps and strips digits and symbols at both ends, then looks the rest up
here; so ``Admin@2024`` is refused as ``admin``.
"""

from __future__ import annotations

COMMON_WORDS: frozenset[str] = frozenset(
    """
    password passwort passw pass passwd pwd secret letmein welcome welcom hello login
    admin administrator root super superuser user guest test testing demo default system
    manager master qwerty qwert qwertz azerty asdf asdfg asdfgh asdfghjkl zxcv zxcvb zxcvbn
    zxcvbnm qazwsx qaz wsx 1qaz2wsx qweasd qweasdzxc abc abcd abcde abcdef abcdefg abcdefgh
    abcabc aaaa aaaaaa iloveyou loveyou love lovely monkey dragon shadow sunshine princess
    football baseball soccer basketball hockey batman superman starwars pokemon master
    michael jennifer jordan charlie andrew thomas ashley daniel jessica hunter harley
    trustno freedom whatever computer internet changeme change newpass mypass mypassword
    company office server database oracle mysql postgres safetwin safety plant chem chemical
    woaini wo ai ni zhang wang li liu chen yang huang zhao zhou wu china beijing shanghai
    huawei baidu tencent alibaba taobao qq weixin wechat aini caonima nihao
    spring summer autumn winter january february march april june july august september
    october november december monday friday sunday
    """.split()
)

COMMON_PASSWORDS: frozenset[str] = frozenset(
    """
    123456 1234567 12345678 123456789 1234567890 111111 000000 666666 888888 123123 654321
    password1 password123 p@ssw0rd p@ssword passw0rd qwerty123 qwe123 qwe123!@# admin123
    admin@123 admin888 root123 abc123 abc123456 a123456 a12345678 1q2w3e4r 1q2w3e4r5t
    1qaz2wsx3edc zaq12wsx !qaz2wsx 5201314 trustno1 woaini1314 iloveyou1 welcome1 letmein1 changeme1
    """.split()
)

# Refused wherever they occur in a password: keyboard walks.
COMMON_SEQUENCES: tuple[str, ...] = (
    "1qaz2wsx", "qazwsx", "qwerty", "asdfgh", "zxcvbn", "123456", "654321", "abcdef", "iloveyou",
)  # fmt: skip
