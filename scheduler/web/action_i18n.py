"""The action page's words in each language (README: The statement for the record).
Every language has every key (tests/test_action_web.py checks it); another language
falls back to English. ``{…}`` placeholders are filled by the template, whose
autoescaping escapes the values."""

from __future__ import annotations

from collections.abc import Mapping

_EN = {
    "title": "A statement for the record",
    "intro": (
        "Ask your legislators to commemorate the victims of {event} with a minute of silence and a statement for"
        " the record, just like the Texas and New York state legislatures did before. Your letter goes to them"
        " by email from {org}, with your name and postal address; their answers come to you."
    ),
    "counter": "Letters sent for the {number} anniversary so far: {count}",
    "region_label": "Your region",
    "region_hint": "Legislators are chosen by where you live.",
    "region_choose": "Choose your region",
    "region_button": "Show my legislators",
    "targets_title": "Your letter goes to",
    "targets_none": "Choose your region above to see who your letter goes to.",
    "name_label": "Your name",
    "address_label": "Your postal address",
    "address_hint": (
        "Many legislators' offices count a letter only from a constituent with an address. It goes into the"
        " letter and nowhere else."
    ),
    "subject_label": "Subject",
    "letter_label": "Your letter",
    "letter_hint": "You may change it; it keeps its paragraphs. At most 5,000 characters.",
    "locked_hint": "This letter is sent as it is written here.",
    "send_button": "Send my letter",
    "sent_title": "Thank you. Your letter is on its way.",
    "already_title": "You have already sent your letter for this anniversary",
    "already_text": "Your letter of {date} went to:",
    "copy_note": "A copy of it is on its way to {email}.",
    "state_sent": "sent",
    "state_queued": "waiting: it goes out within the hour",
    "state_sending": "being sent",
    "state_failed": "could not be sent",
    "expired_title": "This link has expired",
    "expired_text": (
        "Each year's letter can be sent until the next anniversary. The next message from us will bring a new link."
    ),
    "errors_title": "Please correct the following:",
    "replayed": "This form was already sent. Please check the page below before you send it again.",
    "field_region": "Region",
    "field_name": "Name",
    "field_address": "Postal address",
    "field_letter": "Letter",
    "code_required": "please fill this in.",
    "code_too_long": "this is too long.",
    "code_markup": "please leave out the characters < and >.",
    "code_line_breaks": "please keep this on one line, without special characters.",
    "code_region": "please choose your region from the list.",
    "code_no_target": "we have no legislators for this region yet; please choose another.",
    "code_control": "please leave out special characters.",
}

_AZ = {
    "title": "Rəsmi protokol üçün bəyanat",
    "intro": (
        "Texas və Nyu-York ştatlarının qanunverici orqanlarının əvvəllər etdiyi kimi, qanunvericilərinizdən"
        " {event} qurbanlarının xatirəsini bir dəqiqəlik sükutla və rəsmi protokola daxil ediləcək bəyanatla yad"
        " etmələrini xahiş edin. Məktubunuz onlara {org} tərəfindən e-poçtla, adınız və poçt ünvanınızla"
        " göndərilir; cavabları Sizə gələcək."
    ),
    "counter": "{number} ildönümü üçün indiyədək göndərilən məktublar: {count}",
    "region_label": "Regionunuz",
    "region_hint": "Qanunvericilər yaşadığınız yerə görə seçilir.",
    "region_choose": "Regionunuzu seçin",
    "region_button": "Qanunvericilərimi göstər",
    "targets_title": "Məktubunuz bu ünvanlara gedir",
    "targets_none": "Məktubunuzun kimə gedəcəyini görmək üçün yuxarıda regionunuzu seçin.",
    "name_label": "Adınız",
    "address_label": "Poçt ünvanınız",
    "address_hint": (
        "Bir çox qanunverici ofisi yalnız ünvanı göstərilmiş seçicinin məktubunu nəzərə alır. Ünvan yalnız"
        " məktuba yazılır."
    ),
    "subject_label": "Mövzu",
    "letter_label": "Məktubunuz",
    "letter_hint": "Mətni dəyişə bilərsiniz; abzaslar saxlanılır. Ən çoxu 5000 simvol.",
    "locked_hint": "Bu məktub burada yazıldığı kimi göndərilir.",
    "send_button": "Məktubumu göndər",
    "sent_title": "Təşəkkür edirik. Məktubunuz yoldadır.",
    "already_title": "Bu ildönümü üçün məktubunuzu artıq göndərmisiniz",
    "already_text": "{date} tarixli məktubunuz bu ünvanlara getdi:",
    "copy_note": "Onun surəti {email} ünvanına göndərilir.",
    "state_sent": "göndərildi",
    "state_queued": "növbədədir: bir saat ərzində göndəriləcək",
    "state_sending": "göndərilir",
    "state_failed": "göndərilə bilmədi",
    "expired_title": "Bu keçidin müddəti bitib",
    "expired_text": ("Hər ilin məktubu növbəti ildönümünədək göndərilə bilər. Növbəti məktubumuzda yeni keçid olacaq."),
    "errors_title": "Zəhmət olmasa, bunları düzəldin:",
    "replayed": "Bu forma artıq göndərilib. Yenidən göndərməzdən əvvəl aşağıdakı səhifəni yoxlayın.",
    "field_region": "Region",
    "field_name": "Ad",
    "field_address": "Poçt ünvanı",
    "field_letter": "Məktub",
    "code_required": "bu sahəni doldurun.",
    "code_too_long": "bu, çox uzundur.",
    "code_markup": "< və > simvollarını işlətməyin.",
    "code_line_breaks": "bunu bir sətirdə, xüsusi simvollar olmadan yazın.",
    "code_region": "regionunuzu siyahıdan seçin.",
    "code_no_target": "bu region üçün hələ qanunverici yoxdur; başqa region seçin.",
    "code_control": "xüsusi simvolları işlətməyin.",
}

_RU = {
    "title": "Заявление для протокола",
    "intro": (
        "Попросите своих законодателей почтить память жертв трагедии «{event}» минутой молчания и заявлением для"
        " протокола, как это уже сделали законодательные собрания штатов Техас и Нью-Йорк. Ваше письмо уйдёт им"
        " по электронной почте от {org}, с вашим именем и почтовым адресом; ответы придут вам."
    ),
    "counter": "{number} годовщина: отправлено писем — {count}",
    "region_label": "Ваш регион",
    "region_hint": "Законодатели выбираются по месту вашего проживания.",
    "region_choose": "Выберите регион",
    "region_button": "Показать моих законодателей",
    "targets_title": "Ваше письмо получат",
    "targets_none": "Выберите регион выше, чтобы увидеть, кому уйдёт письмо.",
    "name_label": "Ваше имя",
    "address_label": "Ваш почтовый адрес",
    "address_hint": (
        "Многие офисы законодателей учитывают письмо, только если у избирателя указан адрес. Адрес попадёт"
        " только в письмо."
    ),
    "subject_label": "Тема",
    "letter_label": "Ваше письмо",
    "letter_hint": "Текст можно изменить; абзацы сохранятся. Не более 5000 символов.",
    "locked_hint": "Это письмо отправляется в том виде, в каком оно написано здесь.",
    "send_button": "Отправить письмо",
    "sent_title": "Спасибо. Ваше письмо отправляется.",
    "already_title": "Вы уже отправили письмо к этой годовщине",
    "already_text": "Ваше письмо от {date} получили:",
    "copy_note": "Копия отправляется на {email}.",
    "state_sent": "отправлено",
    "state_queued": "в очереди: уйдёт в течение часа",
    "state_sending": "отправляется",
    "state_failed": "не удалось отправить",
    "expired_title": "Срок действия ссылки истёк",
    "expired_text": (
        "Письмо каждого года можно отправить до следующей годовщины. В нашем следующем письме будет новая ссылка."
    ),
    "errors_title": "Пожалуйста, исправьте следующее:",
    "replayed": "Эта форма уже была отправлена. Проверьте страницу ниже, прежде чем отправлять снова.",
    "field_region": "Регион",
    "field_name": "Имя",
    "field_address": "Почтовый адрес",
    "field_letter": "Письмо",
    "code_required": "заполните это поле.",
    "code_too_long": "слишком длинно.",
    "code_markup": "не используйте символы < и >.",
    "code_line_breaks": "напишите это в одну строку, без специальных символов.",
    "code_region": "выберите регион из списка.",
    "code_no_target": "для этого региона пока нет законодателей; выберите другой.",
    "code_control": "не используйте специальные символы.",
}

_TR = {
    "title": "Resmî kayıt için açıklama",
    "intro": (
        "Teksas ve New York eyalet meclislerinin daha önce yaptığı gibi, yasa koyucularınızdan {event} kurbanlarını"
        " bir dakikalık saygı duruşu ve resmî kayda geçecek bir açıklamayla anmalarını isteyin. Mektubunuz onlara"
        " {org} tarafından e-postayla, adınız ve posta adresinizle gönderilir; yanıtları size gelir."
    ),
    "counter": "{number} yıl dönümü için şimdiye kadar gönderilen mektuplar: {count}",
    "region_label": "Bölgeniz",
    "region_hint": "Yasa koyucular yaşadığınız yere göre seçilir.",
    "region_choose": "Bölgenizi seçin",
    "region_button": "Yasa koyucularımı göster",
    "targets_title": "Mektubunuzun alıcıları",
    "targets_none": "Mektubunuzun kime gideceğini görmek için yukarıdan bölgenizi seçin.",
    "name_label": "Adınız",
    "address_label": "Posta adresiniz",
    "address_hint": (
        "Birçok yasa koyucu ofisi yalnızca adresi belirtilmiş seçmenlerin mektuplarını dikkate alır. Adres yalnızca"
        " mektuba yazılır."
    ),
    "subject_label": "Konu",
    "letter_label": "Mektubunuz",
    "letter_hint": "Metni değiştirebilirsiniz; paragraflar korunur. En fazla 5.000 karakter.",
    "locked_hint": "Bu mektup burada yazıldığı gibi gönderilir.",
    "send_button": "Mektubumu gönder",
    "sent_title": "Teşekkür ederiz. Mektubunuz yolda.",
    "already_title": "Bu yıl dönümü için mektubunuzu zaten gönderdiniz",
    "already_text": "{date} tarihli mektubunuz şu alıcılara gitti:",
    "copy_note": "Bir kopyası {email} adresine gönderiliyor.",
    "state_sent": "gönderildi",
    "state_queued": "sırada: bir saat içinde gönderilecek",
    "state_sending": "gönderiliyor",
    "state_failed": "gönderilemedi",
    "expired_title": "Bu bağlantının süresi doldu",
    "expired_text": (
        "Her yılın mektubu bir sonraki yıl dönümüne kadar gönderilebilir. Bir sonraki mesajımızda yeni bir bağlantı"
        " olacak."
    ),
    "errors_title": "Lütfen şunları düzeltin:",
    "replayed": "Bu form zaten gönderildi. Tekrar göndermeden önce lütfen aşağıdaki sayfayı kontrol edin.",
    "field_region": "Bölge",
    "field_name": "Ad",
    "field_address": "Posta adresi",
    "field_letter": "Mektup",
    "code_required": "lütfen burayı doldurun.",
    "code_too_long": "bu çok uzun.",
    "code_markup": "lütfen < ve > karakterlerini kullanmayın.",
    "code_line_breaks": "lütfen bunu tek satırda, özel karakterler olmadan yazın.",
    "code_region": "lütfen bölgenizi listeden seçin.",
    "code_no_target": "bu bölge için henüz yasa koyucu yok; lütfen başka bir bölge seçin.",
    "code_control": "lütfen özel karakterler kullanmayın.",
}

STRINGS: dict[str, Mapping[str, str]] = {"en": _EN, "az": _AZ, "ru": _RU, "tr": _TR}


def action_words(language: str) -> Mapping[str, str]:
    return STRINGS.get(language, _EN)
