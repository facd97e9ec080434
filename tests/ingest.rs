//! Integration tests for reading and cleaning articles (`polybrief::ingest`),
//! the sentence splitter, and `polybrief clean`.
//!
//! Fixtures in tests/fixtures/ingest/ were written for these tests; files
//! that must be binary, mis-encoded or huge are made at run time in a
//! scratch folder. Real text comes from ../shared/eval (read, never copied).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use polybrief::ingest::{paragraphs, read_article, sentences, Article, ArticleReader, MAX_INPUT_BYTES};

const EVAL: &str = "../shared/eval";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ingest").join(name)
}

/// A fresh scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("polybrief-ingest-tests").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn polybrief(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polybrief"))
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn read_all(inputs: &[PathBuf]) -> Vec<Result<Article, polybrief::ingest::ArticleError>> {
    ArticleReader::new(inputs, false).collect()
}

fn paragraph_list(article: &Article) -> Vec<&str> {
    paragraphs(&article.text)
}

/// Every `kept` paragraph is a paragraph of the text and no `dropped`
/// line survives anywhere in it.
fn assert_cleaned(text: &str, kept: &[&str], dropped: &[&str]) {
    let paras = paragraphs(text);
    for k in kept {
        assert!(paras.contains(k), "story paragraph lost: {k:?}\n--- cleaned text:\n{text}");
    }
    for line in text.lines() {
        for d in dropped {
            assert!(!line.contains(d), "furniture survived: {d:?} in line {line:?}");
        }
    }
}

// ---------------------------------------------------------------- inputs

#[test]
fn text_file_gives_one_article_with_headline_and_id() {
    let a = read_article(&fixture("scraped-culture.txt")).unwrap();
    assert_eq!(a.id, "scraped-culture");
    assert_eq!(a.source, fixture("scraped-culture.txt").display().to_string());
    assert_eq!(a.title.as_deref(), Some("Museum returns bronze statues to Nigeria after 130 years"));
    assert_eq!(paragraph_list(&a)[0], "Museum returns bronze statues to Nigeria after 130 years");
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn stdin_is_read_through_the_binary() {
    let text = "Skip to main content\n\nCity opens new library\n\nThe city opened its largest public library on \
                Saturday, with room for half a million books and a floor of study rooms for students.\n";
    let out = polybrief(&["clean", "--format", "json", "-"], Some(text.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "stdin");
    assert_eq!(v["source"], "-");
    assert_eq!(v["title"], "City opens new library");
    assert!(!v["text"].as_str().unwrap().contains("Skip to main content"));
}

#[test]
fn folder_is_read_recursively_in_sorted_order() {
    let items = read_all(&[fixture("folder")]);
    let ids: Vec<&str> = items.iter().map(|r| r.as_ref().unwrap().id.as_str()).collect();
    // .csv is not an article file and hidden files are skipped.
    assert_eq!(ids, vec!["01-markets", "desk__Asia-news", "desk__europe__rail", "w1"]);
    let a = items.iter().map(|r| r.as_ref().unwrap()).collect::<Vec<_>>();
    assert_eq!(a[0].title.as_deref(), Some("Shares rise as inflation eases"));
    assert!(!a[0].text.contains("Markets\n"), "section label kept: {}", a[0].text);
    assert_eq!(a[1].title.as_deref(), Some("Typhoon closes schools in Manila"));
    assert_eq!(a[2].title.as_deref(), Some("Night train returns to Vienna route"));
    assert!(a[2].notes.contains(&"html main content extracted".to_string()));
    assert!(a[2].text.contains("track access charges for night trains."));
    assert!(!a[2].text.contains("© 2025"));
    assert_eq!(a[3].source, format!("{}:1", fixture("folder/wires.jsonl").display()));
}

#[test]
fn folder_without_articles_is_an_error_naming_it() {
    let dir = scratch("empty_folder");
    std::fs::write(dir.join("data.csv"), "a,b\n").unwrap();
    let items = read_all(std::slice::from_ref(&dir));
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert!(err.to_string().starts_with(&dir.display().to_string()), "{err}");
    assert!(err.to_string().contains("no article files"), "{err}");
}

#[test]
fn jsonl_broken_lines_do_not_stop_the_others() {
    let path = fixture("records.jsonl");
    let items = read_all(std::slice::from_ref(&path));
    let src = |line: usize| format!("{}:{line}", path.display());
    assert_eq!(items.len(), 5, "one item per non-blank line");

    let first = items[0].as_ref().unwrap();
    assert_eq!(first.id, "wire-001");
    assert_eq!(first.source, src(1));
    assert_eq!(first.title.as_deref(), Some("Drought cuts wheat harvest"));
    assert_eq!(first.url.as_deref(), Some("https://wire.example.com/drought"));
    assert_eq!(first.date.as_deref(), Some("2025-06-01"));
    assert_eq!(
        paragraph_list(first),
        vec![
            "Drought cuts wheat harvest",
            "Farmers in the south expect to harvest a third less wheat than last year after the driest spring on record, the agriculture ministry said on Sunday.",
            "The ministry said it would release grain from state reserves to keep bread prices stable.",
        ]
    );

    let broken = items[1].as_ref().unwrap_err();
    assert_eq!(broken.source, src(2));
    assert!(broken.to_string().starts_with(&src(2)), "{broken}");
    assert!(broken.to_string().contains("not valid JSON"), "{broken}");

    let no_body = items[2].as_ref().unwrap_err();
    assert_eq!(no_body.source, src(3));
    assert!(no_body.to_string().contains("neither \"text\" nor \"html\""), "{no_body}");

    let html = items[3].as_ref().unwrap();
    assert_eq!(html.id, "records-5", "no id: file name and line");
    assert_eq!(html.title.as_deref(), Some("Volcano erupts near village"));
    assert_eq!(html.date.as_deref(), Some("2025-06-02"));
    assert!(html.text.contains("small earthquakes beneath its slopes."));
    assert!(!html.text.contains("Copyright"));

    assert_eq!(items[4].as_ref().unwrap().id, "wire-001-2", "ids are unique within a run");
}

#[test]
fn jsonl_oversized_record_is_skipped_and_empty_file_is_an_error() {
    let dir = scratch("jsonl_limits");
    let big = dir.join("big.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    write!(f, "{{\"id\": \"huge\", \"text\": \"").unwrap();
    f.write_all(&vec![b'a'; MAX_INPUT_BYTES as usize]).unwrap();
    writeln!(f, "\"}}").unwrap();
    writeln!(f, "{{\"id\": \"small\", \"text\": \"The harbour reopened on Friday after repairs to the sea wall were finished ahead of schedule.\"}}").unwrap();
    drop(f);
    let items = read_all(std::slice::from_ref(&big));
    assert_eq!(items.len(), 2);
    let err = items[0].as_ref().unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:1: this record is", big.display())), "{err}");
    assert_eq!(items[1].as_ref().unwrap().id, "small");

    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "\n  \n").unwrap();
    let items = read_all(std::slice::from_ref(&empty));
    assert_eq!(items.len(), 1);
    assert!(items[0].as_ref().unwrap_err().to_string().contains("has no records"));
}

#[test]
fn html_pages_give_the_story_without_page_furniture() {
    let a = read_article(&fixture("page-harbour.html")).unwrap();
    assert_eq!(a.title.as_deref(), Some("Port workers strike over automation plans"));
    assert_eq!(a.url.as_deref(), Some("https://news.example.org/business/port-workers-strike"));
    assert_eq!(a.date.as_deref(), Some("2025-11-14T08:30:00Z"));
    assert_eq!(a.notes, vec!["html main content extracted"]);
    assert_cleaned(
        &a.text,
        &[
            "Port workers strike over automation plans",
            "Dock workers at the country's second-largest container port walked off the job on Friday morning, halting the loading of about 40 ships and leaving lorries queuing for several kilometres along the coast road.",
            "\"Nobody asked us whether the machines are safe, or what happens to the families who depend on these jobs,\" union leader Tomasz Zielinski told reporters outside the terminal gates.",
            "Shipping companies warned that a long stoppage would delay deliveries of fuel, grain and consumer goods before the holiday season, and two lines said they were diverting vessels to neighbouring ports.",
            "Talks between the union and the port authority are due to resume on Monday under the supervision of a government mediator, the labour ministry said in a statement.",
        ],
        &[
            "Skip to main content", "Advertisement", "Markets", "Share on", "Copy link", "(Photo:",
            "Automation reshapes", "Sign up", "Subscribe", "Related stories", "Freight rates", "All rights reserved",
            "cookies", "Accept all", "Privacy policy",
        ],
    );

    let b = read_article(&fixture("page-science.html")).unwrap();
    assert_eq!(b.title.as_deref(), Some("Glacier retreat doubles in a decade, survey finds"));
    assert_eq!(b.url.as_deref(), Some("https://science.example.net/climate/glacier-retreat-doubles"));
    assert_eq!(b.date.as_deref(), Some("2025-10-02T06:00:00+01:00"));
    assert_cleaned(
        &b.text,
        &[
            "Mountain glaciers are losing ice twice as fast as they did ten years ago, according to a satellite survey of more than 900 glaciers published on Thursday in the journal Earth Observations.",
            "Fastest losses in the Alps",
            "\"We expected an acceleration, but not one this large in such a short time,\" said Dr. Ole Hansen, a glaciologist who worked on the study. \"Many of these glaciers will not survive the century.\"",
            "The study did not include the large ice sheets of Greenland and Antarctica, which are measured separately and were the subject of a report by the same group last year.",
        ],
        &[
            "uses cookies", "Sign in", "Newsletters", "Technology", "Video:", "02:47", "Download our app",
            "Share this article", "LinkedIn", "Log in to join", "Most read", "octopuses", "Copyright",
        ],
    );
}

// ------------------------------------------------------------ bad inputs

#[test]
fn missing_empty_blank_binary_and_undecodable_files_are_named_errors() {
    let dir = scratch("bad_inputs");
    let missing = dir.join("missing.txt");
    let empty = dir.join("empty.txt");
    let blank = dir.join("blank.txt");
    let binary = dir.join("photo.jpg");
    let bad_utf16 = dir.join("broken-utf16.txt");
    std::fs::write(&empty, "").unwrap();
    std::fs::write(&blank, " \n\t\n \u{a0}\n").unwrap();
    std::fs::write(&binary, b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01").unwrap();
    // A UTF-16 byte-order mark, then a lone high surrogate.
    std::fs::write(&bad_utf16, [0xFF, 0xFE, b'H', 0, b'i', 0, 0x00, 0xD8, b'!', 0]).unwrap();

    // Not UTF-8, no control characters, and no legacy encoding makes words of it.
    let noise = dir.join("noise.txt");
    let mut state: u32 = 7;
    let noise_bytes: Vec<u8> = (0..4000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((state >> 16) as u8).max(b' ')
        })
        .collect();
    std::fs::write(&noise, noise_bytes).unwrap();

    let menu_only = dir.join("menu.html");
    std::fs::write(
        &menu_only,
        "<html><head><title>Home</title></head><body><nav><a href=\"/\">Home</a> \
         <a href=\"/world\">World</a> <a href=\"/sport\">Sport</a></nav></body></html>",
    )
    .unwrap();
    let no_body = dir.join("blank-page.htm");
    std::fs::write(&no_body, "<html><head></head><body></body></html>").unwrap();

    let cases = [
        (&missing, "no such file"),
        (&empty, "is empty"),
        (&blank, "is empty"),
        (&binary, "binary"),
        (&bad_utf16, "not valid UTF-16LE"),
        (&noise, "could not be decoded sensibly"),
        (&menu_only, "no article text left once page furniture"),
        (&no_body, "no article content found in this HTML page"),
    ];
    for (path, problem) in cases {
        let err = read_article(path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        assert!(msg.contains(problem), "{msg}");

        let out = polybrief(&["clean", path.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&path.display().to_string()) && stderr.contains(problem), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn windows_1252_is_decoded_with_a_note() {
    let dir = scratch("cp1252");
    let path = dir.join("cafe.txt");
    let text = "Caf\u{e9} owner\u{2019}s \u{201c}big\u{201d} day\n\nThe owner of the caf\u{e9} on the \
                main square said on Monday that the r\u{e9}sum\u{e9} of his chef \u{2014} a former \
                soldier \u{2014} had won the jury\u{2019}s vote for the town\u{2019}s best kitchen.\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "the fixture must not be UTF-8");
    std::fs::write(&path, &bytes).unwrap();
    let a = read_article(&path).unwrap();
    assert_eq!(a.text, text.trim_end());
    assert_eq!(a.title.as_deref(), Some("Caf\u{e9} owner\u{2019}s \u{201c}big\u{201d} day"));
    assert_eq!(a.notes, vec!["decoded from windows-1252"]);
}

#[test]
fn a_file_over_the_size_limit_is_refused_without_reading_it() {
    let dir = scratch("too_big");
    let path = dir.join("dump.txt");
    // Sparse: takes no disk space, and would take 10 MB of memory if read.
    std::fs::File::create(&path).unwrap().set_len(MAX_INPUT_BYTES + 1).unwrap();
    let msg = read_article(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&path.display().to_string())
            && msg.contains("is 10485761 bytes, over the limit of 10485760 bytes (10 MiB)"),
        "{msg}"
    );

    // Exactly at the limit is read (and then refused as binary: it is all NUL bytes).
    std::fs::File::create(&path).unwrap().set_len(MAX_INPUT_BYTES).unwrap();
    assert!(read_article(&path).unwrap_err().to_string().contains("binary"));

    let out = polybrief(&["clean", "-"], Some(&vec![b'a'; MAX_INPUT_BYTES as usize + 1]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-: is 10485761 bytes, over the limit"));
}

#[test]
fn a_batch_with_bad_inputs_prints_the_good_ones_and_exits_1() {
    let dir = scratch("batch");
    let missing = dir.join("missing.txt");
    let out = polybrief(
        &["clean", "--format", "json", missing.to_str().unwrap(), fixture("scraped-wire.txt").to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["scraped-wire"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{}: no such file", missing.display())));
}

#[test]
fn articles_not_in_english_get_a_note() {
    let dir = scratch("not_english");
    let ru = dir.join("ru.txt");
    std::fs::write(
        &ru,
        "Китай и Россия достигли широкого консенсуса по ряду вопросов во время визита министра в Москву.\n",
    )
    .unwrap();
    let fr = dir.join("fr.txt");
    std::fs::write(&fr, "La Chine et la Russie ont atteint un large consensus sur une série de questions pendant la visite du ministre.\n").unwrap();
    assert_eq!(read_article(&ru).unwrap().notes, vec!["not English: looks like Russian"]);
    assert_eq!(read_article(&fr).unwrap().notes, vec!["not English: looks like French"]);
}

// --------------------------------------------------------------- cleaning

#[test]
fn seed_page_loses_its_furniture_and_keeps_its_story() {
    let a = read_article(Path::new(&format!("{EVAL}/seed/cna-china-russia-2025-12-03.txt"))).unwrap();
    let headline = "China, Russia discuss Ukraine, reach 'consensus' on Japan during Chinese minister's visit";
    assert_eq!(a.title.as_deref(), Some(headline));
    assert_eq!(a.text.matches(headline).count(), 1, "the repeated headline is dropped");
    let furniture = [
        "Skip to main content",
        "Advertisement",
        "(Photo: REUTERS",
        "Members of the delegations, led by",
        "Chinese Foreign Minister Wang Yi delivers delivers his speech",
        "05:09 Min",
        "French President Emmanuel Macron has arrived in Beijing for a three-day state visit.",
        "Tan Si Hui reports from Beijing",
        "Source: Reuters",
        "Also worth reading",
    ];
    let story = [
        headline,
        "Wang Yi says Beijing and Moscow must \"continue to coordinate and cooperate\" on issues involving Japan and China's diplomatic row.",
        "BEIJING: China and Russia reached \"broad consensus\" on a range of issues during the Chinese foreign minister's trip to Moscow this week, amid a burst of diplomatic efforts to end the war in Ukraine and as Beijing seeks to rally support in a row with Tokyo.",
        "The remarks come amid the worst diplomatic crisis between Beijing and Tokyo in years, after Japanese Prime Minister Sanae Takaichi said last month a hypothetical Chinese attack on democratically ruled Taiwan could trigger a response from Tokyo.",
        "Wang's visit coincided with a trip to Moscow by US President Donald Trump's special envoy, Steve Witkoff, and his son-in-law, Jared Kushner.",
        "Xi told Trump that China \"hopes all parties will continue to narrow differences and reach a fair, lasting and binding peace agreement as soon as possible\".",
        "French President Emmanuel Macron, on a trip to China this week, is also expected to discuss Ukraine with Xi, days after he warmly received Ukrainian President Volodymyr Zelenskyy in Paris.",
        "FRANCE URGED TO SUPPORT CHINA",
        "China and France should enhance communication and cooperation, Wang told French Foreign Minister Jean-Noel Barrot, who was accompanying French President Emmanuel Macron on a three-day state visit to China.",
    ];
    assert_cleaned(&a.text, &story, &furniture);
    assert!(!paragraphs(&a.text).contains(&"World"), "the section label is dropped");
    // Every paragraph of the story, in the order of the page: the seed has
    // 15 story paragraphs counting headline, standfirst and crosshead.
    assert_eq!(paragraphs(&a.text).len(), 15, "{}", a.text);
}

#[test]
fn hard_wrapped_wire_page_is_cleaned_and_unwrapped() {
    let a = read_article(&fixture("scraped-wire.txt")).unwrap();
    assert_eq!(a.title.as_deref(), Some("EU agrees deal on cross-border rail tickets"));
    assert_cleaned(
        &a.text,
        &[
            "EU agrees deal on cross-border rail tickets",
            "Travellers who miss a connection on a journey across borders will be rebooked for free under the new rules.",
            "By Paul Martin | 12 March 2025, 14:05 GMT",
            "BRUSSELS, March 12 (Wire) - European Union governments and lawmakers agreed on Wednesday on rules that will let travellers buy a single ticket for a train journey across several countries, ending a system in which passengers who miss a connection often lose the rest of their trip.",
            "\"Passengers should not have to be experts in railway timetables to cross a border,\" said Anna Berg, the lawmaker who led the talks. \"Today we have fixed that.\"",
            "Rail operators had lobbied against the rules, saying they would raise costs for small companies. The final text gives operators with fewer than 50 employees two extra years to comply.",
            "The rules still need formal approval from member states and the European Parliament, which is expected in May.",
        ],
        &[
            "Home | World", "Advertisement", "3 min read", "Listen to this article", "Share on", "Image:", "Getty Images",
            "Reporting by", "cookies", "Accept all", "Manage preferences", "Related stories", "Night trains return",
            "All rights reserved",
        ],
    );
    assert_eq!(a.text.matches("By Paul Martin").count(), 1, "the repeated byline is dropped");
    assert_eq!(paragraphs(&a.text).len(), 8, "{}", a.text);
}

#[test]
fn one_line_per_paragraph_page_is_cleaned() {
    let a = read_article(&fixture("scraped-culture.txt")).unwrap();
    assert_cleaned(
        &a.text,
        &[
            "Museum returns bronze statues to Nigeria after 130 years",
            "The six figures, taken from Benin City in 1897, were handed over at a ceremony in Lagos attended by the Oba of Benin.",
            "Published 4 June 2025",
            "Six bronze statues taken from Benin City by British soldiers in 1897 were handed back to Nigeria on Tuesday, in one of the largest returns of looted artefacts by a European museum this year.",
            "Nigerian officials said the statues would go on display in a new museum being built in Benin City, which is due to open in 2027.",
            "Some critics in Britain have argued that returned objects may be less safe in Nigeria, a claim that officials in Lagos rejected as \"insulting and out of date\".",
        ],
        &[
            "Skip to content", "Podcasts", "Sign in", "Search", "Listen to this article", "Image source", "Image caption",
            "Scroll to continue", "Read more", "newsletter", "in your inbox", "Follow us", "Comments", "Great news",
            "other museums", "Most popular", "Festival line-up",
        ],
    );
    assert_eq!(a.text.matches("Published 4 June 2025").count(), 1);
    assert_eq!(paragraphs(&a.text).len(), 8, "{}", a.text);
}

/// Whitespace runs made single spaces, as cleaning does.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn real_news_text_loses_nothing_to_cleaning() {
    // Furniture rules must not fire on story text: the WMT news documents
    // (headlines, datelines, quotes, short lines included), laid out one
    // paragraph per line as a scraped page would be, come through whole.
    let src = std::fs::read_to_string(format!("{EVAL}/wmt22-general/en-zh/source.en")).unwrap();
    let ids = std::fs::read_to_string(format!("{EVAL}/wmt22-general/en-zh/docids.tsv")).unwrap();
    let mut docs: Vec<(String, Vec<&str>)> = Vec::new();
    for (line, id) in src.lines().zip(ids.lines()) {
        let mut fields = id.split('\t');
        let (doc, domain) = (fields.next().unwrap(), fields.next().unwrap());
        if domain != "news" {
            continue;
        }
        if docs.last().is_none_or(|d| d.0 != doc) {
            docs.push((doc.to_string(), Vec::new()));
        }
        docs.last_mut().unwrap().1.push(line);
    }
    assert_eq!(docs.len(), 31);
    for (doc, lines) in &docs {
        for layout in [lines.join("\n\n"), lines.join("\n")] {
            let cleaned = polybrief::ingest::clean(&layout).text;
            assert_eq!(paragraphs(&cleaned), lines.iter().map(|l| squeeze(l)).collect::<Vec<_>>(), "{doc}");
        }
    }

    // WMT21: 1002 lines of news documents back to back, repeats included.
    let src = std::fs::read_to_string(format!("{EVAL}/wmt21-news/en-zh/source.en")).unwrap();
    let cleaned = polybrief::ingest::clean(&src).text;
    let kept = paragraphs(&cleaned);
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = src.lines().map(squeeze).filter(|l| seen.insert(l.to_lowercase())).collect();
    assert_eq!(kept, unique);
}

#[test]
fn summeval_articles_come_through_jsonl_unchanged() {
    // 100 real CNN/DailyMail articles, one record each: nothing in them is
    // furniture, and some end without a full stop after a photo reference.
    let articles = std::fs::read_to_string(format!("{EVAL}/summeval-cnndm/articles.txt")).unwrap();
    let dir = scratch("summeval_jsonl");
    let path = dir.join("summeval.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (i, text) in articles.lines().enumerate() {
        writeln!(out, "{}", serde_json::json!({ "id": format!("cnndm-{i}"), "text": text })).unwrap();
    }
    drop(out);
    let items = read_all(std::slice::from_ref(&path));
    assert_eq!(items.len(), 100);
    for (item, text) in items.iter().zip(articles.lines()) {
        let a = item.as_ref().unwrap();
        assert!(a.title.is_none(), "{}: {:?}", a.id, a.title);
        assert_eq!(a.text, squeeze(text), "{}", a.id);
        assert!(a.notes.is_empty(), "{}: {:?}", a.id, a.notes);
    }
}

#[test]
fn clean_command_prints_text_and_json() {
    let path = fixture("scraped-wire.txt");
    let out = polybrief(&["clean", path.to_str().unwrap()], None);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim_end(), read_article(&path).unwrap().text);

    let out = polybrief(&["clean", "--format", "json", fixture("folder").to_str().unwrap()], None);
    assert!(out.status.success());
    let records: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 4);
    assert_eq!(records[1]["id"], "desk__Asia-news");
    assert!(records[2]["notes"].as_array().unwrap().iter().any(|n| n == "html main content extracted"));
}

// -------------------------------------------------------------- sentences

/// The parts, in order, hold every non-whitespace character of `whole`.
fn assert_no_text_lost(whole: &str, parts: &[&str]) {
    let bare = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert_eq!(bare(&parts.concat()), bare(whole));
}

fn ends_like_sentence(s: &str) -> bool {
    s.trim_end_matches(['"', '\'', '”', '’', ')']).ends_with(['.', '!', '?'])
}

/// Lines of a WMT source file grouped into runs of consecutive lines of
/// one news document that each end like a sentence (headlines break runs).
fn wmt_news_runs(dir: &str) -> Vec<Vec<String>> {
    let src = std::fs::read_to_string(format!("{EVAL}/{dir}/source.en")).unwrap();
    // wmt21 is all news in one file; wmt22 says document and domain per line.
    let docs: Vec<(String, String)> = match std::fs::read_to_string(format!("{EVAL}/{dir}/docids.tsv")) {
        Ok(d) => d
            .lines()
            .map(|l| {
                let mut f = l.split('\t');
                (f.next().unwrap().to_string(), f.next().unwrap().to_string())
            })
            .collect(),
        Err(_) => src.lines().map(|_| (String::new(), "news".to_string())).collect(),
    };
    let mut runs = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut last_doc = String::new();
    for (line, (doc, domain)) in src.lines().zip(docs) {
        let continues = domain == "news" && doc == last_doc && ends_like_sentence(line);
        if !continues && run.len() > 1 {
            runs.push(std::mem::take(&mut run));
        }
        if !continues {
            run.clear();
        }
        if domain == "news" && ends_like_sentence(line) {
            run.push(line.to_string());
        }
        last_doc = doc;
    }
    if run.len() > 1 {
        runs.push(run);
    }
    runs
}

/// (line boundaries, boundaries missed, splits inside a line) when the
/// lines of each run are joined with spaces and split again.
fn boundary_counts(runs: &[Vec<String>]) -> (usize, usize, usize) {
    let (mut boundaries, mut missed, mut inside) = (0, 0, 0);
    for run in runs {
        let joined = run.join(" ");
        let mut line_starts = Vec::new();
        let mut offset = 0;
        for line in run {
            line_starts.push(offset);
            offset += line.len() + 1;
        }
        let found = sentences(&joined);
        assert_no_text_lost(&joined, &found);
        let found_starts: Vec<usize> = found.iter().map(|s| s.as_ptr() as usize - joined.as_ptr() as usize).collect();
        boundaries += line_starts.len() - 1;
        missed += line_starts[1..].iter().filter(|s| !found_starts.contains(s)).count();
        inside += found_starts[1..].iter().filter(|s| !line_starts.contains(s)).count();
    }
    (boundaries, missed, inside)
}

#[test]
fn wmt22_news_sentences_joined_and_split_come_back() {
    // WMT22 source lines are single sentences: every line boundary must be
    // found again, and almost no split may fall inside a line.
    let runs = wmt_news_runs("wmt22-general/en-zh");
    let (boundaries, missed, inside) = boundary_counts(&runs);
    println!("wmt22 news: {boundaries} line boundaries, {missed} missed, {inside} splits inside a line");
    assert!(boundaries > 300, "{boundaries}");
    assert!(missed * 100 <= boundaries, "missed {missed} of {boundaries}");
    assert!(inside * 100 <= boundaries, "{inside} splits inside single sentences");
}

#[test]
fn wmt21_news_line_boundaries_are_found() {
    // WMT21 lines are paragraphs of one or more sentences: every line
    // boundary is a sentence boundary and must be found again.
    let runs = wmt_news_runs("wmt21-news/en-zh");
    let (boundaries, missed, inside) = boundary_counts(&runs);
    println!("wmt21 news: {boundaries} line boundaries, {missed} missed, {inside} more splits inside lines");
    assert!(boundaries > 800, "{boundaries}");
    assert!(missed * 100 <= boundaries, "missed {missed} of {boundaries}");
}

#[test]
fn summeval_articles_match_hand_checked_sentence_counts() {
    let articles = std::fs::read_to_string(format!("{EVAL}/summeval-cnndm/articles.txt")).unwrap();
    let articles: Vec<&str> = articles.lines().collect();
    // Counted by reading the articles (lines 1, 3 and 8 of articles.txt).
    for (index, count) in [(0usize, 20usize), (2, 13), (7, 8)] {
        let s = sentences(articles[index]);
        assert_eq!(s.len(), count, "article {index}: {s:#?}");
        assert_no_text_lost(articles[index], &s);
    }
    let sterling = sentences(articles[0]);
    assert!(sterling.contains(&"Who is V. Stiviano?"));
    assert!(sterling.contains(
        &"\"It also sets a precedent that the injured spouse can recover damages from the recipient of these ill-begotten gifts.\""
    ));
    let jet = sentences(articles[2]);
    assert!(jet.contains(&"Maj. Gen. Igor Konashenkov said the Russian jet flew around the U.S. plane several times to identify it and get its tail number."));
    let cruise = sentences(articles[7]);
    assert!(cruise.contains(&"Holland America Line said two guests were found dead inside their stateroom on the ms Ryndam at 11:30 a.m. Thursday."));
}

#[test]
fn paragraphs_and_sentences_lose_no_text() {
    let text = std::fs::read_to_string(format!("{EVAL}/seed/cna-china-russia-2025-12-03.txt")).unwrap();
    let paras = paragraphs(&text);
    assert_eq!(paras.len(), 25, "blank-line separated blocks of the raw page, counted by reading it");
    assert_no_text_lost(&text, &paras);
    for p in paras {
        assert_no_text_lost(p, &sentences(p));
    }
}

// ------------------------------------------------------------- languages

#[test]
fn languages_of_real_translations_are_recognised() {
    use polybrief::lang::{guess_language, Language};
    // (file, language, least share of lines recognised, most lines taken
    // for another language; the rest may be "unknown": too short to tell)
    let cases = [
        ("wmt22-general/en-zh/ref.A.zh", Language::Chinese, 0.995, 0),
        ("wmt22-general/en-ru/ref.A.ru", Language::Russian, 0.995, 0),
        ("wmt21-news/en-zh/source.en", Language::English, 0.99, 0),
        // Chat, e-commerce and social lines: short and odd, mostly English.
        ("wmt22-general/en-zh/source.en", Language::English, 0.93, 3),
    ];
    for (file, want, least, most_wrong) in cases {
        let text = std::fs::read_to_string(format!("{EVAL}/{file}")).unwrap();
        let (mut lines, mut right, mut wrong) = (0, 0, Vec::new());
        for line in text.lines() {
            lines += 1;
            match guess_language(line) {
                g if g == want => right += 1,
                Language::Unknown => {}
                g => wrong.push(format!("{g}: {line}")),
            }
        }
        println!("{file}: {right}/{lines} {want}, {} other", wrong.len());
        assert!(right as f64 >= least * lines as f64, "{file}: {right}/{lines}");
        assert!(wrong.len() <= most_wrong, "{file}: {wrong:#?}");
    }
}
