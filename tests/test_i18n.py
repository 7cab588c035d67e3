"""The Simplified Chinese catalogue: complete, current with the code, and used by the pages.

The app reads the compiled ``messages.mo``; ``make translations`` (part of ``make install``
and ``make test``) builds it from the ``.po``. After editing the ``.po`` by hand, run
``.venv/bin/pybabel compile -d translations -D messages`` before running these tests.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext

from crm import ROOT
from tests.conftest import csrf_token

TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
# Babel reads "zh_CN" as zh_Hans_CN and looks for that directory; accept either name here
# (test_the_app_finds_the_chinese_catalogue checks the one the app really loads).
PO = next(
    (
        path
        for name in ("zh_Hans_CN", "zh_CN")
        if (path := TRANSLATIONS / name / "LC_MESSAGES" / "messages.po").exists()
    ),
    TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po",
)
MO = PO.with_suffix(".mo")

# %(name)s, %(n)d, %(value).2f ... and bare %s / %d; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")

UPDATE_HINT = (
    "Run `make i18n` (re-extracts translations/messages.pot and merges it into the "
    "catalogue), translate the new entries in {po}, then `make translations`."
)


def _read(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _key(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return list(value or ())


def _placeholders(text: str) -> list[str]:
    """Named placeholders as a sorted set; positional ones (``%s``) counted in order."""
    named, positional = set(), []
    for name, conversion in PLACEHOLDER.findall(text):
        if conversion == "%":
            continue
        if name:
            named.add(f"%({name}){conversion}")
        else:
            positional.append(f"%{conversion}")
    return sorted(named) + positional


def _messages(catalog) -> list:
    return [m for m in catalog if m.id]


@pytest.fixture(scope="module")
def catalogue():
    return _read(PO)


def _untranslated(catalog, msgids) -> list[str]:
    """The msgids that the catalogue lacks or leaves empty."""
    missing = []
    for msgid in msgids:
        message = catalog.get(msgid)
        if message is None or not any(s.strip() for s in _strings(message.string)):
            missing.append(msgid)
    return missing


def _listing(msgids) -> str:
    return "\n".join(f"  {msgid!r}" for msgid in msgids)


# --- the catalogue itself ---------------------------------------------------------------


def test_catalogue_header_is_simplified_chinese_with_one_plural_form(catalogue):
    assert catalogue.locale is not None
    assert (catalogue.locale.language, catalogue.locale.territory) == ("zh", "CN")
    assert catalogue.num_plurals == 1
    assert catalogue.plural_expr == "0"
    assert not catalogue.fuzzy, "the header is marked fuzzy"


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    messages = _messages(catalogue)
    assert len(messages) > 300, "the catalogue looks truncated"
    untranslated = [_key(m) for m in messages if not all(s.strip() for s in _strings(m.string))]
    fuzzy = [_key(m) for m in messages if m.fuzzy]
    assert not untranslated, f"untranslated in {PO.name}:\n{_listing(untranslated)}"
    assert not fuzzy, f"fuzzy in {PO.name} (check, then remove the flag):\n{_listing(fuzzy)}"


def test_no_obsolete_entries_linger(catalogue):
    obsolete = list(catalogue.obsolete)
    assert not obsolete, f"obsolete (#~) entries in {PO.name}:\n{_listing(obsolete)}"


def test_translations_keep_the_placeholders_of_their_msgid(catalogue):
    wrong = []
    for message in _messages(catalogue):
        ids = _strings(message.id)
        for translation in _strings(message.string):
            if len(ids) == 1:
                expected, got = _placeholders(ids[0]), _placeholders(translation)
            else:  # one Chinese form stands for singular and plural alike
                expected = sorted({p for msgid in ids for p in _placeholders(msgid)})
                got = sorted(set(_placeholders(translation)))
            if got != expected:
                wrong.append(f"{_key(message)!r}: expected {expected}, got {got}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_translations_keep_the_html_tags_of_their_msgid(catalogue):
    wrong = [
        _key(m)
        for m in _messages(catalogue)
        for translation in _strings(m.string)
        if sorted(TAG.findall(_strings(m.id)[0])) != sorted(TAG.findall(translation))
    ]
    assert not wrong, f"HTML tags differ:\n{_listing(wrong)}"


@pytest.mark.parametrize(
    ("msgid", "chinese"),
    [
        ("Firm", "企业"),
        ("Unified social credit code", "统一社会信用代码"),
        ("Street", "街镇"),
        ("Street service centre", "街镇营商服务中心"),
        ("Department", "职能部门"),
        ("Enterprise service commissioner", "企业服务专员"),
        ("Primary commissioner", "主包保专员"),
        ("Backup commissioner", "备包保专员"),
        ("District-level key firm", "区级重点企业"),
        ("Sector key firm", "行业重点企业"),
        ("Local key firm", "属地重点企业"),
        ("District leader", "区领导"),
        ("Audit log", "审计日志"),
        ("Prospect", "待落户"),
        ("Moved out", "迁出"),
        ("Log in", "登录"),
        ("Log out", "退出登录"),
        ("User name", "用户名"),
        ("10,000 yuan", "万元"),
    ],
)
def test_glossary_terms(catalogue, msgid, chinese):
    """DESIGN.md §3: the interface uses the office's own words."""
    message = catalogue.get(msgid)
    assert message is not None, f"{msgid!r} is no longer in the catalogue"
    assert message.string == chinese


# --- the catalogue is current with the code ---------------------------------------------


def test_every_message_of_the_template_is_translated(catalogue):
    missing = _untranslated(catalogue, [_key(m) for m in _messages(_read(POT))])
    assert not missing, (
        f"{len(missing)} message(s) of {POT.name} have no translation in {PO.name}:\n"
        f"{_listing(missing)}\n" + UPDATE_HINT.format(po=PO.relative_to(ROOT))
    )


def _pybabel() -> str:
    beside_python = Path(sys.executable).with_name("pybabel")
    found = str(beside_python) if beside_python.exists() else shutil.which("pybabel")
    assert found, "pybabel is not installed"
    return found


def test_every_message_in_the_code_is_translated(catalogue, tmp_path):
    """A new English string in crm/ or templates/ needs a Chinese translation."""
    extracted = tmp_path / "messages.pot"
    result = subprocess.run(  # noqa: S603  (a fixed command line)
        [
            _pybabel(),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "--sort-output",
            "-o",
            str(extracted),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stderr}"
    msgids = [_key(m) for m in _messages(_read(extracted))]
    assert len(msgids) > 300, "the extraction found too few messages"
    missing = _untranslated(catalogue, msgids)
    assert not missing, (
        f"{len(missing)} message(s) in the code have no translation in {PO.name}:\n"
        f"{_listing(missing)}\n" + UPDATE_HINT.format(po=PO.relative_to(ROOT))
    )


def test_compiled_catalogue_is_not_older_than_the_po():
    hint = "run: .venv/bin/pybabel compile -d translations -D messages (or make translations)"
    assert MO.exists(), f"{MO.relative_to(ROOT)} is missing; {hint}"
    assert MO.stat().st_mtime >= PO.stat().st_mtime, f"{MO.name} is older than {PO.name}; {hint}"


# --- the pages speak Chinese, and English on request ------------------------------------


def test_the_app_finds_the_chinese_catalogue(app):
    """flask-babel loads the catalogue of the default locale, not a silent English fallback."""
    from flask_babel import get_locale, get_translations

    with app.test_request_context():
        locale = get_locale()
        translations = get_translations()
        present = sorted(p.name for p in TRANSLATIONS.iterdir() if p.is_dir())
        assert translations.gettext("Log in") == "登录", (
            f"no compiled catalogue for locale {locale}: Babel looks under translations/ for "
            f"{str(locale)!r} or {locale.language!r}, and there are {present} "
            "(or messages.mo is not compiled)"
        )


def test_lazy_labels_are_translated(app):
    from crm import labels

    with app.test_request_context(), force_locale("zh_CN"):
        assert str(labels.TIERS["district"]) == "区级重点企业"
        assert str(labels.ROLES["commissioner"]) == "企业服务专员"
        assert gettext("Welcome, %(name)s", name="张伟") == "欢迎，张伟"


def test_login_page_is_in_chinese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
    assert "登录" in page and "用户名" in page and "密码" in page, (
        "the login page is not in Chinese: is messages.mo compiled?"
    )
    assert "Log in" not in page and "User name" not in page


def test_english_on_request_and_back(client):
    token = csrf_token(client, "/login")
    response = client.post("/language/en", data={"csrf_token": token, "next": "/login"})
    assert response.status_code == 302
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en"' in page
    assert "Log in" in page and "User name" in page
    assert "登录" not in page and "用户名" not in page

    token = csrf_token(client, "/login")
    client.post("/language/zh_CN", data={"csrf_token": token})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN"' in page and "登录" in page


def test_unknown_language_is_ignored(client):
    token = csrf_token(client, "/login")
    client.post("/language/xx", data={"csrf_token": token})
    assert "登录" in client.get("/login").get_data(as_text=True)
