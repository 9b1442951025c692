"""The pages' words in each language (README: The web app, Pages and languages).

Plain and dignified, in keeping with a commemoration. Every language has every key
(tests/test_web_routes.py checks it); a page in a language not listed here falls back to
English. ``{…}`` placeholders are filled by the templates, whose autoescaping escapes the
values put into them."""

from __future__ import annotations

from collections.abc import Mapping

#: each language named in itself, for the language select
LANGUAGE_NAMES = {"en": "English", "az": "Azərbaycanca", "ru": "Русский", "tr": "Türkçe"}

_EN = {
    "skip": "Skip to the content",
    "language_nav": "Language of this page",
    "subscribe_title": "Sign up for the commemoration emails",
    "subscribe_intro": (
        "A few messages a year, around each anniversary we commemorate: a reminder beforehand and a"
        " message on the day. You can leave at any time with one click."
    ),
    "email_label": "Email address",
    "name_label": "Name (optional)",
    "name_hint": "Used only to greet you.",
    "language_label": "Language of the emails",
    "timezone_label": "Time zone",
    "timezone_choose": "Choose your time zone",
    "timezone_hint": "Messages arrive at the right hour on your clock.",
    "consent": (
        "We keep your address, name, language and time zone only to send you these emails, and a"
        " record of this sign-up. We first send you an email with a confirmation link; nothing else"
        " comes until you confirm."
    ),
    "subscribe_button": "Sign up",
    "subscribed_title": "Please check your inbox",
    "subscribed_text": (
        "If this address can be signed up, an email with a confirmation link is on its way to it."
        " The link works for {hours} hours. If nothing arrives, please look in the spam folder."
    ),
    "confirm_title": "Confirm your subscription",
    "confirm_text": "Press the button to confirm that {email} should receive the commemoration emails.",
    "confirm_button": "Confirm",
    "confirmed_title": "Thank you. Your subscription is confirmed.",
    "confirmed_text": "You can change the language and time zone of your emails on your preferences page.",
    "preferences_link": "Your preferences",
    "unsubscribe_title": "Unsubscribe",
    "unsubscribe_text": "Press the button to stop the commemoration emails to {email}.",
    "unsubscribe_button": "Unsubscribe",
    "unsubscribed_title": "You are unsubscribed",
    "unsubscribed_text": (
        "No more messages will be sent to this address. If you change your mind, you can subscribe"
        " again on your preferences page."
    ),
    "preferences_title": "Your preferences",
    "preferences_for": "Preferences for {email}",
    "status_active": "You receive the commemoration emails.",
    "status_pending": "Your subscription is waiting for you to confirm it from the email we sent.",
    "status_off": "You receive no messages.",
    "region_label": "Region (optional)",
    "region_hint": "An ISO 3166-2 code such as AZ-BA, for events near you.",
    "save_button": "Save",
    "saved": "Your preferences are saved.",
    "resubscribe_text": "Would you like to receive the messages again? We will first send you an email to confirm.",
    "resubscribe_button": "Subscribe again",
    "resubscribed": "An email with a confirmation link is on its way to you.",
    "actions_title": "For the record",
    "actions_text": "You can add your statement for the record:",
    "errors_title": "Please correct the following:",
    "field_email": "Email address",
    "field_name": "Name",
    "field_language": "Language",
    "field_timezone": "Time zone",
    "field_region": "Region",
    "code_required": "please fill this in.",
    "code_email": "this is not an email address we can send to.",
    "code_too_long": "this is too long.",
    "code_markup": "please leave out the characters < and >.",
    "code_line_breaks": "please keep this on one line, without special characters.",
    "code_language": "please choose a language from the list.",
    "code_timezone": "please choose a time zone from the list.",
    "code_region": "please enter a code such as AZ-BA, or leave this empty.",
    "error_link_title": "This link is not valid",
    "error_link_text": "Please check that the whole link was copied from the email.",
    "error_expired_title": "This link has expired; sign up again",
    "error_expired_text": "Confirmation links work for a limited time. Please sign up again to get a new one.",
    "error_form_title": "This form could not be accepted",
    "error_form_text": "It may have been open for too long. Please load the page again and send it once more.",
    "error_replayed_title": "This form was already sent",
    "error_replayed_text": "Please load the page again if you want to send it once more.",
    "error_rate_title": "Too many requests",
    "error_rate_text": "Please try again in {minutes} minutes.",
    "error_unavailable_title": "The service is unavailable for a moment",
    "error_unavailable_text": "Please try again a little later.",
    "error_not_found_title": "Page not found",
    "error_not_found_text": "There is no page at this address.",
    "error_bad_request_title": "This request could not be understood",
    "error_bad_request_text": "Please go back and try again.",
    "error_server_title": "Something went wrong on our side",
    "error_server_text": "Please try again a little later.",
    "signup_again": "Sign up again",
    "signup_link": "Sign up",
}

_AZ = {
    "skip": "Məzmuna keçin",
    "language_nav": "Səhifənin dili",
    "subscribe_title": "Anım məktublarına abunə olun",
    "subscribe_intro": (
        "İldə bir neçə məktub, andığımız hər ildönümü ərəfəsində: əvvəlcədən xatırlatma və həmin gün"
        " bir məktub. İstədiyiniz vaxt bir kliklə abunəlikdən çıxa bilərsiniz."
    ),
    "email_label": "E-poçt ünvanı",
    "name_label": "Adınız (istəyə bağlı)",
    "name_hint": "Yalnız sizə müraciət üçün istifadə olunur.",
    "language_label": "Məktubların dili",
    "timezone_label": "Saat qurşağı",
    "timezone_choose": "Saat qurşağınızı seçin",
    "timezone_hint": "Məktublar sizin saatınızla doğru vaxtda gəlir.",
    "consent": (
        "Ünvanınızı, adınızı, dilinizi və saat qurşağınızı yalnız bu məktubları göndərmək üçün, həmçinin"
        " bu abunəliyin qeydini saxlayırıq. Əvvəlcə sizə təsdiq keçidi olan məktub göndəririk; siz təsdiq"
        " edənə qədər başqa heç nə gəlməyəcək."
    ),
    "subscribe_button": "Abunə ol",
    "subscribed_title": "Zəhmət olmasa, poçt qutunuzu yoxlayın",
    "subscribed_text": (
        "Bu ünvan abunə oluna bilərsə, ona təsdiq keçidi olan məktub göndərilir. Keçid {hours} saat"
        " etibarlıdır. Məktub gəlməsə, spam qovluğuna baxın."
    ),
    "confirm_title": "Abunəliyinizi təsdiq edin",
    "confirm_text": "{email} ünvanının anım məktublarını alacağını təsdiq etmək üçün düyməni basın.",
    "confirm_button": "Təsdiq et",
    "confirmed_title": "Təşəkkür edirik. Abunəliyiniz təsdiq olundu.",
    "confirmed_text": "Məktubların dilini və saat qurşağını seçimlər səhifənizdə dəyişə bilərsiniz.",
    "preferences_link": "Seçimləriniz",
    "unsubscribe_title": "Abunəlikdən çıxın",
    "unsubscribe_text": "{email} ünvanına anım məktublarının göndərilməsini dayandırmaq üçün düyməni basın.",
    "unsubscribe_button": "Abunəlikdən çıx",
    "unsubscribed_title": "Abunəliyiniz dayandırıldı",
    "unsubscribed_text": (
        "Bu ünvana artıq məktub göndərilməyəcək. Fikrinizi dəyişsəniz, seçimlər səhifənizdə yenidən abunə"
        " ola bilərsiniz."
    ),
    "preferences_title": "Seçimləriniz",
    "preferences_for": "{email} üçün seçimlər",
    "status_active": "Anım məktublarını alırsınız.",
    "status_pending": "Abunəliyiniz göndərdiyimiz məktubdan təsdiqinizi gözləyir.",
    "status_off": "Sizə məktub göndərilmir.",
    "region_label": "Region (istəyə bağlı)",
    "region_hint": "Yaxınlığınızdakı tədbirlər üçün AZ-BA kimi ISO 3166-2 kodu.",
    "save_button": "Yadda saxla",
    "saved": "Seçimləriniz yadda saxlanıldı.",
    "resubscribe_text": "Məktubları yenidən almaq istəyirsiniz? Əvvəlcə təsdiq üçün sizə məktub göndərəcəyik.",
    "resubscribe_button": "Yenidən abunə ol",
    "resubscribed": "Təsdiq keçidi olan məktub sizə göndərilir.",
    "actions_title": "Tarix üçün",
    "actions_text": "Tarix üçün öz bəyanatınızı əlavə edə bilərsiniz:",
    "errors_title": "Zəhmət olmasa, aşağıdakıları düzəldin:",
    "field_email": "E-poçt ünvanı",
    "field_name": "Ad",
    "field_language": "Dil",
    "field_timezone": "Saat qurşağı",
    "field_region": "Region",
    "code_required": "bu sahəni doldurun.",
    "code_email": "bu, məktub göndərə biləcəyimiz e-poçt ünvanı deyil.",
    "code_too_long": "bu, çox uzundur.",
    "code_markup": "< və > simvollarını işlətməyin.",
    "code_line_breaks": "bunu bir sətirdə, xüsusi simvollar olmadan yazın.",
    "code_language": "siyahıdan dil seçin.",
    "code_timezone": "siyahıdan saat qurşağı seçin.",
    "code_region": "AZ-BA kimi kod yazın və ya bu sahəni boş saxlayın.",
    "error_link_title": "Bu keçid etibarlı deyil",
    "error_link_text": "Keçidin məktubdan tam köçürüldüyünü yoxlayın.",
    "error_expired_title": "Bu keçidin müddəti bitib; yenidən abunə olun",
    "error_expired_text": "Təsdiq keçidləri məhdud müddət işləyir. Yeni keçid almaq üçün yenidən abunə olun.",
    "error_form_title": "Bu forma qəbul edilmədi",
    "error_form_text": (
        "Ola bilsin, çox uzun müddət açıq qalıb. Səhifəni yenidən yükləyin və formanı bir daha göndərin."
    ),
    "error_replayed_title": "Bu forma artıq göndərilib",
    "error_replayed_text": "Onu bir daha göndərmək istəyirsinizsə, səhifəni yenidən yükləyin.",
    "error_rate_title": "Həddindən çox sorğu",
    "error_rate_text": "Zəhmət olmasa, {minutes} dəqiqədən sonra yenidən cəhd edin.",
    "error_unavailable_title": "Xidmət bir müddət əlçatan deyil",
    "error_unavailable_text": "Zəhmət olmasa, bir az sonra yenidən cəhd edin.",
    "error_not_found_title": "Səhifə tapılmadı",
    "error_not_found_text": "Bu ünvanda səhifə yoxdur.",
    "error_bad_request_title": "Bu sorğu başa düşülmədi",
    "error_bad_request_text": "Zəhmət olmasa, geri qayıdın və yenidən cəhd edin.",
    "error_server_title": "Bizim tərəfdə xəta baş verdi",
    "error_server_text": "Zəhmət olmasa, bir az sonra yenidən cəhd edin.",
    "signup_again": "Yenidən abunə olun",
    "signup_link": "Abunə olun",
}

_RU = {
    "skip": "Перейти к содержанию",
    "language_nav": "Язык страницы",
    "subscribe_title": "Подпишитесь на памятные письма",
    "subscribe_intro": (
        "Несколько писем в год, к каждой годовщине, которую мы чтим: напоминание заранее и письмо в сам"
        " день. Отписаться можно в любой момент одним нажатием."
    ),
    "email_label": "Адрес электронной почты",
    "name_label": "Ваше имя (необязательно)",
    "name_hint": "Нужно только для обращения к вам.",
    "language_label": "Язык писем",
    "timezone_label": "Часовой пояс",
    "timezone_choose": "Выберите часовой пояс",
    "timezone_hint": "Письма приходят в нужный час по вашим часам.",
    "consent": (
        "Мы храним ваш адрес, имя, язык и часовой пояс только для отправки этих писем, а также запись об"
        " этой подписке. Сначала мы пришлём письмо со ссылкой для подтверждения; до подтверждения других"
        " писем не будет."
    ),
    "subscribe_button": "Подписаться",
    "subscribed_title": "Пожалуйста, проверьте почту",
    "subscribed_text": (
        "Если этот адрес можно подписать, на него отправлено письмо со ссылкой для подтверждения. Ссылка"
        " действует {hours} ч. Если письмо не пришло, загляните в папку «Спам»."
    ),
    "confirm_title": "Подтвердите подписку",
    "confirm_text": "Нажмите кнопку, чтобы подтвердить, что на адрес {email} нужно присылать памятные письма.",
    "confirm_button": "Подтвердить",
    "confirmed_title": "Спасибо. Ваша подписка подтверждена.",
    "confirmed_text": "Язык писем и часовой пояс можно изменить на странице ваших настроек.",
    "preferences_link": "Ваши настройки",
    "unsubscribe_title": "Отписаться",
    "unsubscribe_text": "Нажмите кнопку, чтобы памятные письма больше не приходили на адрес {email}.",
    "unsubscribe_button": "Отписаться",
    "unsubscribed_title": "Вы отписались",
    "unsubscribed_text": (
        "На этот адрес больше не будут приходить письма. Если передумаете, подписаться снова можно на"
        " странице ваших настроек."
    ),
    "preferences_title": "Ваши настройки",
    "preferences_for": "Настройки для {email}",
    "status_active": "Вы получаете памятные письма.",
    "status_pending": "Подписка ждёт подтверждения по ссылке из нашего письма.",
    "status_off": "Вы не получаете писем.",
    "region_label": "Регион (необязательно)",
    "region_hint": "Код ISO 3166-2, например AZ-BA, для событий рядом с вами.",
    "save_button": "Сохранить",
    "saved": "Ваши настройки сохранены.",
    "resubscribe_text": "Хотите снова получать письма? Сначала мы пришлём письмо для подтверждения.",
    "resubscribe_button": "Подписаться снова",
    "resubscribed": "Письмо со ссылкой для подтверждения уже в пути.",
    "actions_title": "Для истории",
    "actions_text": "Вы можете добавить своё заявление для истории:",
    "errors_title": "Пожалуйста, исправьте следующее:",
    "field_email": "Адрес электронной почты",
    "field_name": "Имя",
    "field_language": "Язык",
    "field_timezone": "Часовой пояс",
    "field_region": "Регион",
    "code_required": "заполните это поле.",
    "code_email": "на этот адрес нельзя отправить письмо.",
    "code_too_long": "слишком длинное значение.",
    "code_markup": "не используйте символы < и >.",
    "code_line_breaks": "напишите это в одну строку, без специальных символов.",
    "code_language": "выберите язык из списка.",
    "code_timezone": "выберите часовой пояс из списка.",
    "code_region": "введите код, например AZ-BA, или оставьте поле пустым.",
    "error_link_title": "Эта ссылка недействительна",
    "error_link_text": "Проверьте, что ссылка скопирована из письма целиком.",
    "error_expired_title": "Срок действия ссылки истёк; подпишитесь снова",
    "error_expired_text": (
        "Ссылки для подтверждения действуют ограниченное время. Подпишитесь снова, чтобы получить новую."
    ),
    "error_form_title": "Форму не удалось принять",
    "error_form_text": "Возможно, она была открыта слишком долго. Обновите страницу и отправьте форму ещё раз.",
    "error_replayed_title": "Эта форма уже отправлена",
    "error_replayed_text": "Обновите страницу, если хотите отправить её ещё раз.",
    "error_rate_title": "Слишком много запросов",
    "error_rate_text": "Пожалуйста, попробуйте снова через {minutes} мин.",
    "error_unavailable_title": "Сервис временно недоступен",
    "error_unavailable_text": "Пожалуйста, попробуйте чуть позже.",
    "error_not_found_title": "Страница не найдена",
    "error_not_found_text": "По этому адресу страницы нет.",
    "error_bad_request_title": "Запрос не удалось понять",
    "error_bad_request_text": "Пожалуйста, вернитесь назад и попробуйте ещё раз.",
    "error_server_title": "На нашей стороне произошла ошибка",
    "error_server_text": "Пожалуйста, попробуйте чуть позже.",
    "signup_again": "Подписаться снова",
    "signup_link": "Подписаться",
}

_TR = {
    "skip": "İçeriğe geç",
    "language_nav": "Sayfanın dili",
    "subscribe_title": "Anma e-postalarına abone olun",
    "subscribe_intro": (
        "Yılda birkaç mesaj, andığımız her yıl dönümünde: önceden bir hatırlatma ve o gün bir mesaj."
        " İstediğiniz zaman tek tıklamayla ayrılabilirsiniz."
    ),
    "email_label": "E-posta adresi",
    "name_label": "Adınız (isteğe bağlı)",
    "name_hint": "Yalnızca size hitap etmek için kullanılır.",
    "language_label": "E-postaların dili",
    "timezone_label": "Saat dilimi",
    "timezone_choose": "Saat diliminizi seçin",
    "timezone_hint": "Mesajlar sizin saatinize göre doğru zamanda gelir.",
    "consent": (
        "Adresinizi, adınızı, dilinizi ve saat diliminizi yalnızca bu e-postaları göndermek için, ayrıca bu"
        " aboneliğin kaydını saklarız. Önce size onay bağlantısı içeren bir e-posta göndeririz; siz"
        " onaylayana kadar başka bir şey gelmez."
    ),
    "subscribe_button": "Abone ol",
    "subscribed_title": "Lütfen gelen kutunuzu kontrol edin",
    "subscribed_text": (
        "Bu adres abone olabiliyorsa, ona onay bağlantısı içeren bir e-posta gönderiliyor. Bağlantı {hours}"
        " saat geçerlidir. Bir şey gelmezse lütfen istenmeyen e-posta klasörüne bakın."
    ),
    "confirm_title": "Aboneliğinizi onaylayın",
    "confirm_text": "{email} adresinin anma e-postalarını alacağını onaylamak için düğmeye basın.",
    "confirm_button": "Onayla",
    "confirmed_title": "Teşekkür ederiz. Aboneliğiniz onaylandı.",
    "confirmed_text": "E-postalarınızın dilini ve saat dilimini tercihler sayfanızda değiştirebilirsiniz.",
    "preferences_link": "Tercihleriniz",
    "unsubscribe_title": "Abonelikten çıkın",
    "unsubscribe_text": "{email} adresine anma e-postalarının gönderilmesini durdurmak için düğmeye basın.",
    "unsubscribe_button": "Abonelikten çık",
    "unsubscribed_title": "Abonelikten çıktınız",
    "unsubscribed_text": (
        "Bu adrese artık mesaj gönderilmeyecek. Fikrinizi değiştirirseniz tercihler sayfanızda yeniden abone"
        " olabilirsiniz."
    ),
    "preferences_title": "Tercihleriniz",
    "preferences_for": "{email} için tercihler",
    "status_active": "Anma e-postalarını alıyorsunuz.",
    "status_pending": "Aboneliğiniz, gönderdiğimiz e-postadan onaylamanızı bekliyor.",
    "status_off": "Size mesaj gönderilmiyor.",
    "region_label": "Bölge (isteğe bağlı)",
    "region_hint": "Yakınınızdaki etkinlikler için AZ-BA gibi bir ISO 3166-2 kodu.",
    "save_button": "Kaydet",
    "saved": "Tercihleriniz kaydedildi.",
    "resubscribe_text": "Mesajları yeniden almak ister misiniz? Önce onay için size bir e-posta göndereceğiz.",
    "resubscribe_button": "Yeniden abone ol",
    "resubscribed": "Onay bağlantısı içeren bir e-posta size gönderiliyor.",
    "actions_title": "Tarihe not",
    "actions_text": "Tarihe not düşmek için beyanınızı ekleyebilirsiniz:",
    "errors_title": "Lütfen şunları düzeltin:",
    "field_email": "E-posta adresi",
    "field_name": "Ad",
    "field_language": "Dil",
    "field_timezone": "Saat dilimi",
    "field_region": "Bölge",
    "code_required": "lütfen bu alanı doldurun.",
    "code_email": "bu, e-posta gönderebileceğimiz bir adres değil.",
    "code_too_long": "bu çok uzun.",
    "code_markup": "lütfen < ve > karakterlerini kullanmayın.",
    "code_line_breaks": "lütfen bunu tek satırda, özel karakter olmadan yazın.",
    "code_language": "lütfen listeden bir dil seçin.",
    "code_timezone": "lütfen listeden bir saat dilimi seçin.",
    "code_region": "lütfen AZ-BA gibi bir kod girin ya da bu alanı boş bırakın.",
    "error_link_title": "Bu bağlantı geçerli değil",
    "error_link_text": "Lütfen bağlantının e-postadan eksiksiz kopyalandığını kontrol edin.",
    "error_expired_title": "Bu bağlantının süresi doldu; yeniden abone olun",
    "error_expired_text": (
        "Onay bağlantıları sınırlı bir süre geçerlidir. Yeni bir bağlantı için lütfen yeniden abone olun."
    ),
    "error_form_title": "Bu form kabul edilemedi",
    "error_form_text": (
        "Çok uzun süre açık kalmış olabilir. Lütfen sayfayı yeniden yükleyip formu bir kez daha gönderin."
    ),
    "error_replayed_title": "Bu form zaten gönderildi",
    "error_replayed_text": "Bir kez daha göndermek isterseniz lütfen sayfayı yeniden yükleyin.",
    "error_rate_title": "Çok fazla istek",
    "error_rate_text": "Lütfen {minutes} dakika sonra yeniden deneyin.",
    "error_unavailable_title": "Hizmet kısa bir süre için kullanılamıyor",
    "error_unavailable_text": "Lütfen biraz sonra yeniden deneyin.",
    "error_not_found_title": "Sayfa bulunamadı",
    "error_not_found_text": "Bu adreste bir sayfa yok.",
    "error_bad_request_title": "Bu istek anlaşılamadı",
    "error_bad_request_text": "Lütfen geri dönüp yeniden deneyin.",
    "error_server_title": "Bizim tarafımızda bir sorun oluştu",
    "error_server_text": "Lütfen biraz sonra yeniden deneyin.",
    "signup_again": "Yeniden abone olun",
    "signup_link": "Abone olun",
}

STRINGS: dict[str, dict[str, str]] = {"en": _EN, "az": _AZ, "ru": _RU, "tr": _TR}


def words(language: str) -> Mapping[str, str]:
    """The page strings for a language; English where the language has none."""
    return STRINGS.get(language, _EN)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
