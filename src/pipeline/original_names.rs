//! People's names in a Chinese rendering followed by their original
//! spelling in brackets at first mention, `利兹·特拉斯 (Liz Truss)`, as
//! Chinese news often writes foreign names. A rendering is one segment (a
//! brief's summary, a paragraph of `translate`), so a name is bracketed at
//! its first mention in each paragraph that pairs up.
//!
//! Why: the 1.5B model transliterates names inconsistently (Liz Truss was
//! 丽莎·特鲁斯 in one sentence and 莉兹·特鲁斯 in the next) and at times
//! wrongly (Cynthia Nixon as 克里斯蒂娜·尼克斯); with the original beside it
//! a reader can tell who is meant. Two of the three Chinese references of
//! the shared WMT news sets write foreign names this way or keep them in
//! Latin letters (README, "Quality"). Languages opt in with
//! `original_names` in `prompts/translate.toml`.
//!
//! A transliterated full name has a middle dot between its parts
//! (弗拉基米尔·普京). Chinese has no spaces, so where such a name ends is
//! told by the characters used for transliteration: the name is the run of
//! them around its dots. The names are paired with the English ones in
//! order, and only when there are as many of each: a rendering whose names
//! cannot be paired one to one is left as it is.
//!
//! A name of the glossary needs no pairing: its Chinese form is known, and
//! that form is often the surname alone (普京 for Vladimir Putin). It is
//! bracketed when the English gives the person's name in full, as one of
//! the glossary's forms, and the glossary's Chinese is a transliteration
//! (not 习近平 for Xi Jinping: a Chinese name in Chinese needs no original).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::glossary::NameRendering;

/// Characters of the usual transliterations of foreign names into Chinese,
/// without those that more often begin the next word (在, 于, 因, 说, 让).
/// 得 (彼得, Peter) is one of them only in 得到 (`AFTER_NAME`).
const TRANSLITERATION: &str = "阿埃艾爱安昂奥澳巴芭拜班邦保堡鲍贝本比彼毕碧边宾滨波玻伯勃博布卜采策查柴彻楚茨达戴丹当道德登迪狄蒂帝丁东杜敦顿多厄恩尔法凡范方菲斐费芬丰冯佛弗伏福富夫盖甘冈高戈哥格葛根贡古瓜圭桂哈海汉豪浩郝赫黑亨洪胡华怀霍基吉济加迦佳嘉贾简杰捷金津久卡凯坎康考柯科克肯孔库夸奎昆拉腊莱赖兰蓝朗劳勒雷蕾累黎里理利莉丽廉连林琳灵留隆卢鲁陆路露伦罗洛吕律马玛迈麦曼芒梅门蒙孟米密敏明摩莫墨默姆穆纳娜乃奈南楠瑙内妮尼涅宁纽努诺欧帕派潘庞培佩彭皮珀坡普奇齐契恰乔切钦琴琼丘秋屈热荣茹瑞若萨塞赛桑瑟森沙莎珊尚绍舍申圣施什史舒斯丝思松宋苏索塔泰坦汤唐陶特滕提廷图瓦万汪旺威韦维卫温文翁沃乌伍武西希锡席夏仙辛欣休修雅亚娅延扬耶叶伊依英尤宇约泽扎詹珍朱卓兹佐祖薇黛茜琪莲义京侯列娃季托朔柳歇汀治烈白罕翰肖芙谢逊龙历得";

/// Words that begin with a transliteration character but follow a name
/// rather than end it ("普京希望…": Putin hopes).
const AFTER_NAME: [&str; 20] = [
    "希望", "加入", "加强", "达成", "达到", "多次", "特别", "安全", "利用", "马上", "欧洲", "西方", "维持", "施压",
    "坦言", "通过", "提供", "提出", "提到", "得到",
];

/// Separators between the parts of a transliterated name.
const NAME_DOTS: [char; 4] = ['·', '•', '・', '‧'];

static CHINESE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    // A part may be joined by a hyphen, as in 拉达-科内法尔 (Lada-Konefal).
    let part = format!("[{TRANSLITERATION}]+(?:-[{TRANSLITERATION}]+)*");
    Regex::new(&format!("{part}(?:[{dots}]{part})+", dots = String::from_iter(NAME_DOTS))).expect("valid expression")
});

/// A capitalised word of a name ("O'Mahony", "Lada-Konefal").
const CAPITALISED: &str = r"\p{Lu}[\p{L}'’-]+";

/// Particles that may come before a part of a name ("al-Islam", "von der").
const PARTICLES: &str = "de|van|von|der|bin|ibn|al|el|da|di|du|del|la|le";

/// One part of a name, with the particles before it.
static NAME_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?:(?:{PARTICLES})[ -])*{CAPITALISED}")).expect("valid expression"));

/// Capitalised words in a row, with the particles of names between them
/// ("Saif al-Islam Gaddafi", "Ursula von der Leyen").
static ENGLISH_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"\b{CAPITALISED}(?:\s+{part})+", part = NAME_PART.as_str())).expect("valid expression")
});

/// Capitalised words before a name that are not part of it: a sentence's
/// first word, titles.
const NOT_IN_NAME: &[&str] = &[
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "But",
    "And",
    "When",
    "After",
    "As",
    "If",
    "While",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "This",
    "That",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "Sir",
    "Dame",
    "Lord",
    "President",
    "Prime",
    "Minister",
    "Foreign",
    "Secretary",
    "Chancellor",
    "Senator",
    "Governor",
    "Mayor",
    "King",
    "Queen",
    "Prince",
    "Princess",
    "Pope",
    "Judge",
    "Coach",
    "Chief",
    "Special",
    "Envoy",
    "Deputy",
    "Vice",
    "Director",
    "Executive",
    "Ambassador",
    "Spokesman",
    "Spokeswoman",
    "Commissioner",
    "Sgt",
    "Sergeant",
    "Writer",
];

/// Words that make capitalised words a place, an organisation or an event
/// rather than a person.
const NOT_A_PERSON: &[&str] = &[
    "United",
    "Arab",
    "Emirates",
    "States",
    "Kingdom",
    "Nations",
    "Union",
    "Association",
    "League",
    "Party",
    "Council",
    "Ministry",
    "Department",
    "Office",
    "Bank",
    "University",
    "Street",
    "Road",
    "Avenue",
    "House",
    "Club",
    "City",
    "County",
    "Airport",
    "Museum",
    "Hospital",
    "Company",
    "Corporation",
    "Group",
    "Trust",
    "Fund",
    "Agency",
    "Service",
    "Force",
    "Army",
    "Navy",
    "Police",
    "Committee",
    "Commission",
    "Organisation",
    "Organization",
    "Network",
    "News",
    "Times",
    "Post",
    "Premier",
    "Cup",
    "Championship",
    "Island",
    "Islands",
    "Sea",
    "Ocean",
    "River",
    "Lake",
    "Valley",
    "North",
    "South",
    "East",
    "West",
    "New",
    "Royal",
    "National",
    "International",
    "Federal",
    "Republic",
    "Stadium",
    "Park",
    "Centre",
    "Center",
    "Institute",
    "Town",
    "Place",
    "Affairs",
    "Operation",
    "St",
    "Saint",
    "Mountain",
    "Mountains",
    "Basin",
    "Heath",
    "Abbey",
    "Bay",
    "Beach",
    "Square",
    "Castle",
    "Cathedral",
    "Palace",
    "Harbour",
    "Harbor",
    "Coast",
    "Forest",
    "Desert",
    "Gulf",
    "Strait",
    "Peninsula",
    "Province",
    "Region",
    "District",
];

/// `rendering` (Chinese) with the first mention of each transliterated name
/// followed by the name as the English `source` writes it, in brackets.
/// `known` are the glossary's names in `source` with their Chinese forms;
/// the other names are bracketed only when they pair up.
pub fn bracketed_original_names<'t>(rendering: &'t str, source: &str, known: &[NameRendering]) -> Cow<'t, str> {
    let mut english = people(source, rendering);
    let mut chinese: Vec<(usize, usize)> = Vec::new();
    for m in CHINESE_NAME.find_iter(rendering) {
        let end = name_end(rendering, m.start(), m.end());
        // A name the model gave its original itself is paired with nothing,
        // as an English name that the rendering writes in Latin letters is
        // not (`person`).
        let bracketed = bracket_follows(rendering, end);
        if !bracketed && !chinese.iter().any(|&(s, e)| rendering[s..e] == rendering[m.start()..end]) {
            chinese.push((m.start(), end));
        }
    }
    // (where the Chinese name ends, the English parts to write after it)
    let mut originals: Vec<(usize, Vec<String>)> = Vec::new();
    english.retain(|parts| {
        let Some((start, end, form_words)) = known_in_rendering(parts, rendering, known) else { return true };
        // The glossary's form may be the end of a dotted name (凯尔·斯塔默).
        let end = match chinese.iter().position(|&(s, e)| s <= start && end <= e) {
            Some(i) => chinese.remove(i).1,
            None => end,
        };
        originals.push((end, parts[parts.len() - form_words..].to_vec()));
        false
    });
    if !english.is_empty() && english.len() == chinese.len() {
        for ((start, end), parts) in chinese.into_iter().zip(english) {
            // As many English parts as the Chinese name has: "安娜·贝尔博克" is
            // "Annalena Baerbock" of "Foreign Minister Annalena Baerbock".
            let count = rendering[start..end].split(NAME_DOTS).count();
            originals.push((end, parts[parts.len().saturating_sub(count)..].to_vec()));
        }
    }
    originals.sort_by_key(|(end, _)| *end);
    originals.retain(|(end, _)| !bracket_follows(rendering, *end));
    if originals.is_empty() {
        return Cow::Borrowed(rendering);
    }
    let mut out = String::with_capacity(rendering.len() + 64);
    let mut at = 0;
    for (end, parts) in originals {
        out.push_str(&rendering[at..end]);
        out.push_str(&format!(" ({})", parts.join(" ")));
        at = end;
    }
    out.push_str(&rendering[at..]);
    Cow::Owned(out)
}

/// Where the first mention of the person `parts` starts and ends in
/// `rendering`, and how many words the glossary's English form has, if
/// the glossary `known` gives the full name in transliteration and
/// `rendering` writes it so.
fn known_in_rendering(parts: &[String], rendering: &str, known: &[NameRendering]) -> Option<(usize, usize, usize)> {
    known.iter().find_map(|name| {
        let words = name.en.split_whitespace().count();
        // A full name: a form of one word may be a place ("For Moscow, …"
        // begins a sentence as "Liz Truss" does).
        let is_this_person = words >= 2 && words <= parts.len() && parts[parts.len() - words..].join(" ") == name.en;
        let transliterated = name.target.chars().all(|c| TRANSLITERATION.contains(c));
        if !(is_this_person && transliterated) {
            return None;
        }
        rendering.find(&name.target).map(|at| (at, at + name.target.len(), words))
    })
}

/// Whether a bracket follows position `at` of `rendering`: the name there
/// has its original already.
fn bracket_follows(rendering: &str, at: usize) -> bool {
    rendering[at..].trim_start().starts_with(['(', '（'])
}

/// Where the name matched at `start..end` of `rendering` ends: before a
/// word that only begins with transliteration characters ("…普京希望"
/// ends before 希望).
fn name_end(rendering: &str, start: usize, end: usize) -> usize {
    let last_part = end - rendering[start..end].rsplit(NAME_DOTS).next().map_or(0, str::len);
    rendering[last_part..]
        .char_indices()
        .map(|(i, _)| last_part + i)
        .take_while(|&i| i < end)
        .skip(1)
        .find(|&i| AFTER_NAME.iter().any(|word| rendering[i..].starts_with(word)))
        .unwrap_or(end)
}

/// The people's names of `source` (each as its parts) that `rendering`
/// does not already write in Latin letters, once each, in order.
fn people(source: &str, rendering: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for m in ENGLISH_NAME.find_iter(source) {
        // A possessive ends a name: "Frank Lampard's Chelsea", "Iran's
        // Vice President Mohammad Mokhber".
        let mut names: Vec<Vec<String>> = vec![Vec::new()];
        for part in NAME_PART.find_iter(m.as_str()).map(|p| p.as_str()) {
            let name = part.trim_end_matches("'s").trim_end_matches("’s");
            names.last_mut().expect("one name at least").push(name.to_string());
            if name.len() < part.len() {
                names.push(Vec::new());
            }
        }
        for parts in names {
            if let Some(parts) = person(parts, rendering) {
                if !out.contains(&parts) {
                    out.push(parts);
                }
            }
        }
    }
    out
}

/// `parts` without the titles before them, if they are a person's name
/// that `rendering` does not write in Latin letters.
fn person(mut parts: Vec<String>, rendering: &str) -> Option<Vec<String>> {
    let leading = parts.iter().take_while(|p| NOT_IN_NAME.contains(&p.as_str())).count();
    parts.drain(..leading);
    if parts.len() < 2 || parts.iter().any(|p| NOT_A_PERSON.contains(&p.as_str())) {
        return None;
    }
    // The model wrote the name, or part of it, in Latin letters
    // ("Jacinda·阿德恩"); a title before it may stay in Latin ("Treasury").
    let name = &parts[parts.len() - 2..];
    (!name.iter().any(|p| rendering.contains(p.as_str()))).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::bracketed_original_names;
    use crate::pipeline::glossary::Glossary;

    /// With the built-in glossary's names, as a run has them.
    fn bracketed(rendering: &str, source: &str) -> String {
        bracketed_original_names(rendering, source, &Glossary::builtin().names_in(source, "zh")).into_owned()
    }

    #[test]
    fn names_get_their_original_spelling_at_first_mention() {
        assert_eq!(
            bracketed("丽兹·特拉斯承诺向阿富汗提供援助。", "Liz Truss pledges more aid to Afghanistan."),
            "丽兹·特拉斯 (Liz Truss)承诺向阿富汗提供援助。"
        );
        // Titles go; as many English parts as the Chinese name has.
        assert_eq!(
            bracketed(
                "德国外长安娜·贝尔博克对记者说，时间不多了。",
                "German Foreign Minister Annalena Baerbock told reporters time was running out."
            ),
            "德国外长安娜·贝尔博克 (Annalena Baerbock)对记者说，时间不多了。"
        );
        // Two people, in order; the second mention stays as it is.
        assert_eq!(
            bracketed(
                "安东尼奥·古特雷斯任命斯蒂芬妮·威廉姆斯为顾问。斯蒂芬妮·威廉姆斯接受了。",
                "António Guterres appointed Stephanie Williams as adviser. Stephanie Williams accepted."
            ),
            "安东尼奥·古特雷斯 (António Guterres)任命斯蒂芬妮·威廉姆斯 (Stephanie Williams)为顾问。斯蒂芬妮·威廉姆斯接受了。"
        );
        // A place is no person.
        assert_eq!(
            bracketed("乔·拜登访问了阿联酋。", "Joe Biden visited the United Arab Emirates."),
            "乔·拜登 (Joe Biden)访问了阿联酋。"
        );
        // A word after the name that begins with a transliteration character.
        assert_eq!(
            bracketed("弗拉基米尔·普京希望会谈。", "Vladimir Putin hopes for talks."),
            "弗拉基米尔·普京 (Vladimir Putin)希望会谈。"
        );
        // A hyphenated part; 彼得 (Peter), but not 得到 (got).
        assert_eq!(
            bracketed("阿格涅什卡·拉达-科内法尔说。", "Agnieszka Lada-Konefal said."),
            "阿格涅什卡·拉达-科内法尔 (Agnieszka Lada-Konefal)说。"
        );
        assert_eq!(
            bracketed("彼得·奥马奥尼得到了球。", "Peter O'Mahony got the ball."),
            "彼得·奥马奥尼 (Peter O'Mahony)得到了球。"
        );
        // A name written in part in Latin letters is not paired.
        assert_eq!(
            bracketed("温迪·罗杰斯称 Jacinda·阿德恩为列宁主义者。", "Wendy Rogers called Jacinda Ardern a Leninist."),
            "温迪·罗杰斯 (Wendy Rogers)称 Jacinda·阿德恩为列宁主义者。"
        );
        // A title kept in Latin letters.
        assert_eq!(
            bracketed("Treasury部长史蒂文·姆努钦说。", "Treasury Secretary Steven Mnuchin said."),
            "Treasury部长史蒂文·姆努钦 (Steven Mnuchin)说。"
        );
        // A possessive ends the name.
        assert_eq!(
            bracketed("弗兰克·兰帕德的切尔西输了。", "Frank Lampard's Chelsea lost."),
            "弗兰克·兰帕德 (Frank Lampard)的切尔西输了。"
        );
        assert_eq!(
            bracketed(
                "伊朗第一副总统穆罕默德·莫赫贝尔周三表示。",
                "Iran's First Vice President Mohammad Mokhber said on Wednesday."
            ),
            "伊朗第一副总统穆罕默德·莫赫贝尔 (Mohammad Mokhber)周三表示。"
        );
    }

    #[test]
    fn titles_places_and_the_models_own_brackets_do_not_count() {
        assert_eq!(
            bracketed(
                "美国伊朗问题特使罗伯特·马利返回维也纳。",
                "U.S. Special Envoy for Iran Robert Malley was heading back to Vienna."
            ),
            "美国伊朗问题特使罗伯特·马利 (Robert Malley)返回维也纳。"
        );
        assert_eq!(
            bracketed(
                "雪崩发生在水晶山，警长达伦·莫斯说。",
                "The avalanche was in Crystal Mountain, said Sgt. Darren Moss."
            ),
            "雪崩发生在水晶山，警长达伦·莫斯 (Darren Moss)说。"
        );
        assert_eq!(
            bracketed(
                "西里尔·拉马福萨为德·克勒克（De Klerk）致悼词。",
                "Cyril Ramaphosa delivered a eulogy for De Klerk."
            ),
            "西里尔·拉马福萨 (Cyril Ramaphosa)为德·克勒克（De Klerk）致悼词。"
        );
    }

    #[test]
    fn glossary_names_need_no_pairing() {
        // The glossary's 普京 is Putin's surname alone, so it has no dot.
        assert_eq!(
            bracketed(
                "七国集团警告俄罗斯，如果普京攻击乌克兰。",
                "The G7 warned Russia if President Vladimir Putin attacks Ukraine."
            ),
            "七国集团警告俄罗斯，如果普京 (Vladimir Putin)攻击乌克兰。"
        );
        // Beside a transliterated name that pairs; a title left in front.
        assert_eq!(
            bracketed(
                "朔尔茨会见了法国总统马克龙和安娜·贝尔博克。",
                "Scholz met French President Emmanuel Macron and Annalena Baerbock."
            ),
            "朔尔茨会见了法国总统马克龙 (Emmanuel Macron)和安娜·贝尔博克 (Annalena Baerbock)。"
        );
        // The model wrote the full name around the glossary's surname.
        assert_eq!(bracketed("据凯尔·斯塔默说。", "According to Keir Starmer."), "据凯尔·斯塔默 (Keir Starmer)说。");
        // A Chinese name in Chinese needs no original; nor a surname alone.
        for (rendering, source) in [("习近平会见了普京。", "Xi Jinping met Putin."), ("约翰逊说。", "Johnson said.")]
        {
            assert_eq!(bracketed(rendering, source), rendering);
        }
    }

    #[test]
    fn renderings_whose_names_do_not_pair_up_are_left_alone() {
        for (rendering, source) in [
            // No dotted name (and no glossary), or the name already in
            // Latin letters.
            ("普京说。", "Vladimir Putin said so."),
            ("Liz Truss 承诺提供援助。", "Liz Truss pledges aid."),
            // Two English names, one Chinese.
            ("乔·拜登会见了普京。", "Joe Biden met Vladimir Putin."),
            // Already bracketed by the model.
            ("乔·拜登（Joe Biden）说。", "Joe Biden said."),
        ] {
            assert_eq!(bracketed_original_names(rendering, source, &[]), rendering, "{rendering}");
        }
    }
}
