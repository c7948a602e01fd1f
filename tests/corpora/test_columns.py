"""Column corpora (CoNLL, token/tag columns, GermEval-style numbered columns): documents,
sentences, tag schemes, prefixes, and errors that name the line and the remedy."""
import time

import pytest

from spacy_bilstm.corpora import CorpusError, read_corpus

from .corpus_files import CONLL_2003_STYLE, assert_clear_error, ents, words_and_ents, write


def test_docstart_lines_mark_documents_and_never_become_tokens(tmp_path):
    result = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE))
    assert [d.text for d in result.docs] == ["EU rejects German call . Peter Blackburn", "BRUSSELS 1996-08-22"]
    assert all("-DOCSTART-" not in t.text for d in result.docs for t in d)
    assert [[s.text for s in d.sents] for d in result.docs][0] == ["EU rejects German call .", "Peter Blackburn"]
    assert ents(result.docs[0]) == [("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER")]
    s = result.summary
    assert (s.documents, s.sentences, s.tokens, s.entities) == (2, 3, 9, 4)
    assert s.entities_per_label == {"LOC": 1, "MISC": 1, "ORG": 1, "PER": 1}
    assert (s.format, s.scheme, s.repairs) == ("conll", "iob2", 0)


def test_tokens_outside_entities_are_annotated_as_outside_not_missing(tmp_path):
    doc = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE)).docs[0]
    assert [t.ent_iob_ for t in doc][:3] == ["B", "O", "B"]


def test_tag_column_picks_another_column(tmp_path):
    result = read_corpus(write(tmp_path, "a.txt", CONLL_2003_STYLE), tag_column=3, scheme="iob2")
    assert ents(result.docs[0])[:2] == [("EU", "NP"), ("rejects", "VP")]


def test_token_column_and_comment_lines_read_germeval_style(tmp_path):
    text = "#\thttp://example.org [2009]\n1\tSchartau\tB-PER\tO\n2\tsagte\tO\tO\n\n"
    result = read_corpus(write(tmp_path, "g.tsv", text), token_column=2, tag_column=3, comment_prefix="#")
    assert ents(result.docs[0]) == [("Schartau", "PER")]


# GermEval 2014's layout: token number, token, outer tag, nested tag; `#` lines give the source;
# line 7 ends in a stray tab.
GERMEVAL_STYLE = (
    "#\thttp://de.wikipedia.org/wiki/Manfred_Korfmann [2009-10-17]\n"
    "1\tAufgrund\tO\tO\n"
    "2\tseiner\tO\tO\n"
    "3\tInitiative\tO\tO\n"
    "4\tfand\tO\tO\n"
    "5\tKorfmann\tB-PER\tO\n"
    '6\t"\tO\tO\t\n'
    "\n"
    "#\thttp://www.example.org/bank [2009-10-18]\n"
    "1\tDie\tO\tO\n"
    "2\tDeutsche\tB-ORG\tB-LOCderiv\n"
    "3\tBank\tI-ORG\tO\n"
)


def test_a_column_numbering_the_tokens_of_each_sentence_is_skipped_and_the_summary_says_so(tmp_path):
    result = read_corpus(write(tmp_path, "g.tsv", GERMEVAL_STYLE), comment_prefix="#")
    assert [[t.text for t in doc] for doc in result.docs] == [
        ["Aufgrund", "seiner", "Initiative", "fand", "Korfmann", '"'], ["Die", "Deutsche", "Bank"]
    ]
    note = next(note for note in result.summary.notes if "numbers the tokens" in note)
    assert "column 1" in note and "column 2" in note and "--token-column 1" in note


def test_token_column_1_reads_the_token_numbers_as_tokens_when_asked(tmp_path):
    result = read_corpus(write(tmp_path, "g.tsv", GERMEVAL_STYLE), comment_prefix="#", token_column=1)
    assert [t.text for t in result.docs[1]] == ["1", "2", "3"]
    assert not any("numbers the tokens" in note for note in result.summary.notes)


def test_numbers_that_do_not_restart_in_each_sentence_are_read_as_tokens(tmp_path):
    text = "1\tNNP\tB-ORG\n2\tVBZ\tO\n\n3\tNNP\tB-PER\n"
    result = read_corpus(write(tmp_path, "n.tsv", text))
    assert [[t.text for t in doc] for doc in result.docs] == [["1", "2"], ["3"]]
    assert not any("numbers the tokens" in note for note in result.summary.notes)


def test_the_summary_says_which_of_several_tag_columns_was_read_and_how_to_read_another(tmp_path):
    path = write(tmp_path, "g.tsv", GERMEVAL_STYLE)
    nested = read_corpus(path, comment_prefix="#")
    assert [ents(doc) for doc in nested.docs] == [[], [("Deutsche", "LOCderiv")]]
    note = next(note for note in nested.summary.notes if "tags were read" in note)
    assert "column 4" in note and "(3)" in note and "--tag-column" in note
    outer = read_corpus(path, comment_prefix="#", tag_column=3)
    assert [ents(doc) for doc in outer.docs] == [[("Korfmann", "PER")], [("Deutsche Bank", "ORG")]]
    assert not any("tags were read" in note for note in outer.summary.notes)


def test_a_two_column_file_has_no_note_about_the_tag_column(tmp_path):
    result = read_corpus(write(tmp_path, "a.txt", "EU B-ORG\nrejects O\n"))
    assert result.summary.notes == []


def test_trailing_empty_columns_do_not_stop_the_conversion_and_the_summary_counts_their_lines(tmp_path):
    result = read_corpus(write(tmp_path, "g.tsv", GERMEVAL_STYLE), comment_prefix="#", tag_column=3)
    assert result.summary.tokens == 9 and result.summary.format_detail.endswith("4 columns, tab-separated")
    assert any("empty columns at the end of 1 line(s)" in note for note in result.summary.notes)


def test_an_empty_tag_followed_by_a_trailing_tab_is_still_an_empty_tag(tmp_path):
    path = write(tmp_path, "a.tsv", "EU\tB-ORG\nrejects\t\t\n")
    assert_clear_error(path, 2, "Empty tag")


def test_comment_lines_without_comment_prefix_give_an_error_that_names_the_option(tmp_path):
    error = assert_clear_error(write(tmp_path, "g.tsv", GERMEVAL_STYLE), 2, "Found 4 columns but line 1 has 2")
    assert "--comment-prefix '#'" in str(error) and "line 1 is one" in str(error)


def test_an_error_on_a_line_starting_with_a_hash_names_the_comment_prefix_option(tmp_path):
    error = assert_clear_error(write(tmp_path, "a.tsv", "EU\tB-ORG\n#\t\n"), 2, "Empty tag")
    assert "pass --comment-prefix '#'" in str(error)


def test_an_error_on_a_line_not_starting_with_a_hash_says_nothing_of_comments(tmp_path):
    error = assert_clear_error(write(tmp_path, "a.tsv", "EU\tB-ORG\nrejects\t\n"), 2, "Empty tag")
    assert "comment" not in str(error)


def test_without_document_markers_each_sentence_is_a_document_unless_n_sents(tmp_path):
    path = write(tmp_path, "w.conll", "a\tO\nb\tB-PER\n\nc\tO\n\nd\tB-LOC\n")
    assert read_corpus(path).summary.documents == 3
    grouped = read_corpus(path, n_sents=2)
    assert [len(list(d.sents)) for d in grouped.docs] == [2, 1]
    assert grouped.summary.format == "columns"


def test_iob1_file_is_detected_and_decoded(tmp_path):
    path = write(tmp_path, "iob1.txt", "Ann I-PER\nBob B-PER\nand O\nParis I-LOC\nRome I-LOC\n")
    result = read_corpus(path)
    assert result.summary.scheme == "iob1"
    assert ents(result.docs[0]) == [("Ann", "PER"), ("Bob", "PER"), ("Paris Rome", "LOC")]


def test_bioes_file_keeps_multi_token_entities_whole(tmp_path):
    path = write(tmp_path, "b.txt", "New B-LOC\nYork E-LOC\nis O\nbig O\nAnn S-PER\n")
    result = read_corpus(path)
    assert result.summary.scheme == "bioes"
    assert ents(result.docs[0]) == [("New York", "LOC"), ("Ann", "PER")]


def test_biluo_file_is_detected_and_keeps_l_and_u_entities(tmp_path):
    result = read_corpus(write(tmp_path, "b.txt", "New B-LOC\nYork L-LOC\nAnn U-PER\n"))
    assert result.summary.scheme == "biluo"
    assert ents(result.docs[0]) == [("New York", "LOC"), ("Ann", "PER")]


def test_wikiann_language_prefix_is_stripped_when_every_token_has_it(tmp_path):
    path = write(tmp_path, "wa.txt", "en:Sioux\tB-ORG\nen:Falls\tI-ORG\nen::\tO\n\nen:Paris\tB-LOC\n")
    result = read_corpus(path)
    assert [t.text for t in result.docs[0]] == ["Sioux", "Falls", ":"]
    assert any("'en:'" in note for note in result.summary.notes)
    kept = read_corpus(path, strip_prefix=None)
    assert kept.docs[0][0].text == "en:Sioux"


def test_prefix_is_kept_when_not_every_token_has_it(tmp_path):
    result = read_corpus(write(tmp_path, "x.txt", "en:Sioux\tB-ORG\nFalls\tI-ORG\n"))
    assert result.docs[0][0].text == "en:Sioux"


def test_explicit_prefix_missing_on_a_token_is_an_error(tmp_path):
    with pytest.raises(CorpusError) as info:
        read_corpus(write(tmp_path, "x.txt", "en:Sioux\tB-ORG\nFalls\tI-ORG\n"), strip_prefix="en:")
    assert info.value.line == 2


def test_whitespace_only_and_stray_bom_lines_separate_sentences(tmp_path):
    result = read_corpus(write(tmp_path, "w.conll", "a\tO\n\t\nb\tO\n\ufeff\nc\tO\n"))
    assert result.summary.sentences == 3 and result.summary.tokens == 3


def test_e_tag_without_b_under_stated_bioes_is_an_error_naming_the_line(tmp_path):
    path = write(tmp_path, "bad.txt", "Ann O\nSmith E-PER\n")
    with pytest.raises(CorpusError, match="no B-PER before it") as info:
        read_corpus(path, scheme="bioes")
    assert info.value.line == 2 and "--repair" in str(info.value)


def test_repair_fixes_invalid_sequences_only_when_asked_and_counts_them(tmp_path):
    path = write(tmp_path, "r.txt", "Ann B-PER\n\nthe O\nBob I-PER\nSmith I-PER\n")
    with pytest.raises(CorpusError):
        read_corpus(path)
    result = read_corpus(path, repair=True)
    assert result.summary.repairs == 1
    assert [ents(d) for d in result.docs] == [[("Ann", "PER")], [("Bob Smith", "PER")]]


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("EU NNP B-ORG\nrejects O\n", 2, "Found 2 columns but line 1 has 3"),
        ("EU B-ORG\nrejects VBZ O\n", 2, "Found 3 columns but line 1 has 2"),
        ("EU\tB-ORG\n\tO\n", 2, "Empty token"),
        ("EU\tB-ORG\n\u00a0\tO\n", 2, "Empty token"),
        ("EU\tB-ORG\nrejects\t\n", 2, "Empty tag"),
        ("EU B-ORG\nrejects\n", 2, "Found 1 column but line 1 has 2"),
        ("EU\n", 1, "expected a token and a tag"),
        # A vertical tab is not a column separator: the line is one column, not two.
        ("EU\x0bB-ORG\n", 1, "Found 1 column"),
        ("Ann X-PER\n", 1, "Unknown tag 'X-PER'"),
        ("Ann S-PER\n\nNew B-LOC\nYork I-LOC\n", 3, "never closed"),
        ("Ann S-PER\nBob U-PER\n", 1, "mixes BIOES"),
        ("Ann O\nBob I-PER\n\nCarl B-PER\n", 2, "mixes IOB1"),
    ],
)
def test_malformed_column_files_name_the_file_the_line_the_problem_and_a_remedy(tmp_path, text, line, fragment):
    assert_clear_error(write(tmp_path, "bad.txt", text), line, fragment)


def test_tab_file_with_a_space_separated_line_says_the_separators_are_mixed(tmp_path):
    path = write(tmp_path, "mixed.tsv", "EU\tB-ORG\nrejects O\n")
    error = assert_clear_error(path, 2, "Found 1 column")
    assert "tabs" in error.hint and "spaces" in error.hint


def test_space_file_with_a_tab_separated_line_reads_every_token(tmp_path):
    result = read_corpus(write(tmp_path, "mixed.txt", "EU B-ORG\nrejects\tO\n"))
    assert words_and_ents(result) == [(["EU", "rejects"], [(0, 1, "ORG")])]


def test_unicode_spaces_inside_a_token_are_kept_not_split_off(tmp_path):
    # str.split() would split "New\u00a0York" and keep only "New", losing a token silently.
    path = write(tmp_path, "nbsp.txt", "New\u00a0York B-LOC\nis O\nbig\u2003one O\n")
    result = read_corpus(path)
    assert words_and_ents(result) == [(["New\u00a0York", "is", "big\u2003one"], [(0, 1, "LOC")])]


def test_file_of_only_docstart_lines_has_no_tokens(tmp_path):
    path = write(tmp_path, "docstart.txt", "-DOCSTART- -X- -X- O\n\n-DOCSTART- -X- -X- O\n")
    assert_clear_error(path, None, "no tokens")


def test_a_20000_token_sentence_reads_whole_and_fast(tmp_path):
    n = 20_000
    tags = ["B-PER" if i % 10 == 0 else "I-PER" if i % 10 == 1 else "O" for i in range(n)]
    path = write(tmp_path, "long.txt", "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)))
    started = time.perf_counter()
    result = read_corpus(path)
    assert time.perf_counter() - started < 10
    (doc,) = result.docs
    assert len(doc) == n and len(doc.ents) == n // 10 and len(list(doc.sents)) == 1
    assert all(e.end - e.start == 2 and e.label_ == "PER" for e in doc.ents)


@pytest.mark.parametrize(
    "scheme,tags,bad_line,fragment",
    [
        ("iob2", ["O", "I-PER"], 2, "in IOB2 every entity starts with B-"),
        ("iob2", ["B-PER", "I-LOC"], 2, "in IOB2 every entity starts with B-"),
        ("iob2", ["B-PER", "L-PER"], 2, "prefix L-"),
        ("iob1", ["I-PER", "E-PER"], 2, "prefix E-"),
        ("io", ["B-PER", "I-PER"], 1, "prefix B-"),
        ("bioes", ["B-PER", "O"], 2, "interrupts the entity"),
        ("bioes", ["O", "E-PER"], 2, "no B-PER before it"),
        ("bioes", ["B-PER", "I-PER"], 1, "never closed"),
        ("bioes", ["B-PER", "E-LOC"], 2, "interrupts the entity"),
        ("bioes", ["U-PER"], 1, "prefix U-"),
        ("biluo", ["B-PER", "B-PER", "L-PER"], 2, "interrupts the entity"),
        ("biluo", ["O", "I-PER", "L-PER"], 2, "no B-PER before it"),
        ("biluo", ["S-PER"], 1, "prefix S-"),
    ],
)
def test_invalid_transitions_under_each_scheme_name_the_line(tmp_path, scheme, tags, bad_line, fragment):
    path = write(tmp_path, "bad.txt", "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)))
    assert_clear_error(path, bad_line, fragment, scheme=scheme)


def test_auto_detection_refuses_a_file_that_fits_no_single_scheme(tmp_path):
    path = write(tmp_path, "bad.txt", "Ann S-PER\n\nBob U-PER\n")
    error = assert_clear_error(path, 1, "mixes BIOES")
    assert "--scheme" in error.hint


def test_column_documents_keep_their_tokens_through_a_docbin_and_spacys_corpus_reader(tmp_path):
    """A column file has no whitespace: its docs say so, and spaCy's Corpus then trains on the
    file's own tokens, whole documents, instead of re-tokenising the joined text."""
    import spacy
    from spacy.training import Corpus

    from spacy_bilstm.corpora.writers import write_docbin

    source = tmp_path / "train.conll"
    source.write_text("-DOCSTART- O\n\nParis-based B-MISC\nforces O\n\nsaid O\nthat O\n\n"
                      "-DOCSTART- O\n\n:-) O\nhi O\n", encoding="utf-8")
    docs = read_corpus(source).docs
    assert all(doc.has_unknown_spaces for doc in docs)
    write_docbin(docs, tmp_path / "train.spacy")
    nlp = spacy.blank("en")
    examples = list(Corpus(tmp_path / "train.spacy")(nlp))
    assert [[token.text for token in eg.predicted] for eg in examples] == [
        ["Paris-based", "forces", "said", "that"], [":-)", "hi"]]
    assert [token.text for token in nlp.make_doc(examples[0].reference.text)][:1] != ["Paris-based"]


def test_tokens_spacy_lets_spacys_corpus_reader_retokenise_the_text(tmp_path):
    import spacy
    from spacy.training import Corpus

    from spacy_bilstm.corpora.writers import write_docbin

    source = tmp_path / "train.conll"
    source.write_text("Paris-based B-MISC\nforces O\n", encoding="utf-8")
    result = read_corpus(source, tokens="spacy")
    assert not result.docs[0].has_unknown_spaces
    assert any("--tokens spacy" in note for note in result.summary.notes)
    write_docbin(result.docs, tmp_path / "train.spacy")
    example = next(iter(Corpus(tmp_path / "train.spacy")(spacy.blank("en"))))
    assert [token.text for token in example.predicted] == ["Paris", "-", "based", "forces"]


def test_an_unknown_tokens_choice_is_refused_with_the_choices(tmp_path):
    source = tmp_path / "train.conll"
    source.write_text("Paris B-LOC\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="gold, spacy"):
        read_corpus(source, tokens="words")
