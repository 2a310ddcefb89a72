"""Regenerate the country crosswalk shipped with tradeanomaly.

Run from the repository root::

    python src/tradeanomaly/codes/data/build_countries.py

Writes ``countries.csv`` (one row per economy), ``aliases.csv`` (name variants -> ISO3 or aggregate kind) and
``code_aliases.csv`` (extra numeric codes per system: Comtrade's own codes, aggregates). The inputs are pycountry
(ISO 3166-1/-3 names and numeric codes) plus the hand-written tables below. Only the CSVs ship; this script is kept so
the tables can be reviewed and rebuilt.

Sources of the hand tables: IMF country codes as printed in IMF DOTS/IFS extracts (GFI's DOTS misinvoicing tables
carry 184 code/name pairs); UN Comtrade reporter/partner codes where they depart from M49; US Census Schedule C codes
as printed in Census international-trade extracts (``cty_code``/``cty_name``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pycountry

HERE = Path(__file__).resolve().parent

# Historic or non-ISO entities that appear in trade statistics.
# iso3 -> (iso2, m49, English name)
EXTRA_ENTITIES = {
    "TWN": None,  # in pycountry already; listed to document that Comtrade code 490 resolves here
    "XKX": ("XK", "", "Kosovo"),
    "ANT": ("AN", "530", "Netherlands Antilles"),
    "CSK": ("CS", "200", "Czechoslovakia"),
    "SCG": ("CS", "891", "Serbia and Montenegro"),
    "DDR": ("DD", "278", "East Germany"),
    "SUN": ("SU", "810", "USSR"),
    "YMD": ("YD", "720", "South Yemen"),
    "YUG": ("YU", "890", "Yugoslavia"),
    # North Yemen before 1990; ISO 3166-3 kept no separate code, YAR is the common research code.
    "YAR": ("", "886", "North Yemen"),
    # Belgo-Luxembourg Economic Union reported jointly until 1998 (Comtrade 58, ISO-like BLX).
    "BLX": ("", "", "Belgium-Luxembourg"),
}
HISTORIC = {"ANT", "CSK", "SCG", "DDR", "SUN", "YMD", "YUG", "YAR", "BLX"}

# Short readable English names for report sentences, where pycountry's name is long or formal.
NAME_EN = {
    "USA": "United States", "GBR": "United Kingdom", "KOR": "South Korea", "PRK": "North Korea",
    "RUS": "Russia", "VNM": "Vietnam", "TWN": "Taiwan", "HKG": "Hong Kong", "MAC": "Macao", "IRN": "Iran",
    "SYR": "Syria", "LAO": "Laos", "BOL": "Bolivia", "VEN": "Venezuela", "TZA": "Tanzania", "MDA": "Moldova",
    "COD": "DR Congo", "COG": "Congo", "PSE": "Palestine", "BRN": "Brunei", "FSM": "Micronesia",
    "VAT": "Holy See", "CZE": "Czechia", "MKD": "North Macedonia", "FLK": "Falkland Islands",
    "VGB": "British Virgin Islands", "VIR": "US Virgin Islands", "UMI": "US Minor Outlying Islands",
    "SHN": "Saint Helena", "SXM": "Sint Maarten", "MAF": "Saint Martin", "BES": "Caribbean Netherlands",
    "CHN": "China", "TUR": "Türkiye", "CPV": "Cabo Verde", "SWZ": "Eswatini", "CIV": "Côte d'Ivoire",
    "KNA": "Saint Kitts and Nevis", "VCT": "Saint Vincent and the Grenadines", "LCA": "Saint Lucia",
    "NLD": "Netherlands", "BHS": "Bahamas", "GMB": "Gambia", "TLS": "Timor-Leste", "HMD": "Heard and McDonald Islands",
    "SGS": "South Georgia", "IOT": "British Indian Ocean Territory", "CCK": "Cocos (Keeling) Islands",
}

# IMF (IFS/DOTS) numeric country codes. The first block matches the code/name pairs printed in IMF DOTS extracts
# (GFI misinvoicing tables, DOTS G7 monthly); the second block is from IMF code lists for economies absent there.
IMF = {
    "USA": "111", "GBR": "112", "AUT": "122", "BEL": "124", "DNK": "128", "FRA": "132", "DEU": "134",
    "SMR": "135", "ITA": "136", "LUX": "137", "NLD": "138", "NOR": "142", "SWE": "144", "CHE": "146",
    "CAN": "156", "JPN": "158", "FIN": "172", "GRC": "174", "ISL": "176", "IRL": "178", "MLT": "181",
    "PRT": "182", "ESP": "184", "TUR": "186", "AUS": "193", "NZL": "196", "ZAF": "199", "ARG": "213",
    "BOL": "218", "BRA": "223", "CHL": "228", "COL": "233", "CRI": "238", "DOM": "243", "ECU": "248",
    "SLV": "253", "GTM": "258", "HTI": "263", "HND": "268", "MEX": "273", "NIC": "278", "PAN": "283",
    "PRY": "288", "PER": "293", "URY": "298", "VEN": "299", "ATG": "311", "BHS": "313", "ABW": "314",
    "BRB": "316", "DMA": "321", "GRD": "328", "GUY": "336", "BLZ": "339", "JAM": "343", "KNA": "361",
    "LCA": "362", "VCT": "364", "SUR": "366", "TTO": "369", "BHR": "419", "CYP": "423", "IRN": "429",
    "IRQ": "433", "ISR": "436", "JOR": "439", "KWT": "443", "LBN": "446", "OMN": "449", "QAT": "453",
    "SAU": "456", "SYR": "463", "ARE": "466", "EGY": "469", "YEM": "474", "AFG": "512", "BGD": "513",
    "BTN": "514", "BRN": "516", "MMR": "518", "KHM": "522", "LKA": "524", "HKG": "532", "IND": "534",
    "IDN": "536", "TLS": "537", "KOR": "542", "LAO": "544", "MYS": "548", "MDV": "556", "NPL": "558",
    "PAK": "564", "PHL": "566", "SGP": "576", "THA": "578", "VNM": "582", "DJI": "611", "DZA": "612",
    "AGO": "614", "BWA": "616", "BDI": "618", "CMR": "622", "CPV": "624", "CAF": "626", "TCD": "628",
    "COM": "632", "COG": "634", "COD": "636", "BEN": "638", "GNQ": "642", "ERI": "643", "ETH": "644",
    "GAB": "646", "GMB": "648", "GHA": "652", "GNB": "654", "GIN": "656", "CIV": "662", "KEN": "664",
    "LSO": "666", "LBR": "668", "LBY": "672", "MDG": "674", "MWI": "676", "MLI": "678", "MRT": "682",
    "MUS": "684", "MAR": "686", "MOZ": "688", "NER": "692", "NGA": "694", "ZWE": "698", "RWA": "714",
    "STP": "716", "SYC": "718", "SEN": "722", "SLE": "724", "SOM": "726", "NAM": "728", "SDN": "732",
    "SWZ": "734", "TZA": "738", "TGO": "742", "TUN": "744", "UGA": "746", "BFA": "748", "ZMB": "754",
    "SLB": "813", "FJI": "819", "KIR": "826", "VUT": "846", "PNG": "853", "WSM": "862", "TON": "866",
    "ARM": "911", "AZE": "912", "BLR": "913", "ALB": "914", "GEO": "915", "KAZ": "916", "KGZ": "917",
    "BGR": "918", "MDA": "921", "RUS": "922", "TJK": "923", "CHN": "924", "TKM": "925", "UKR": "926",
    "UZB": "927", "CZE": "935", "SVK": "936", "EST": "939", "LVA": "941", "SRB": "942", "MNE": "943",
    "HUN": "944", "LTU": "946", "MNG": "948", "HRV": "960", "SVN": "961", "MKD": "962", "BIH": "963",
    "POL": "964", "ROU": "968",
    # economies absent from the extracts above
    "TWN": "528", "MAC": "546", "CUB": "928", "PRK": "954", "XKX": "967", "SSD": "733", "PSE": "487",
    "PLW": "565", "MHL": "867", "FSM": "868", "NRU": "836", "TUV": "869", "AIA": "312", "BMU": "319",
    "MSR": "351", "SXM": "352", "ANT": "353", "CUW": "354", "NCL": "839", "PYF": "887", "GIB": "823",
    "GRL": "326", "FRO": "816", "FLK": "323", "GUM": "829", "ASM": "859", "VAT": "187", "BLX": "126",
    "SCG": "965",
}

# IMF DOTS spellings (name_imf column); these are also loaded as aliases.
NAME_IMF = {
    "CHN": "China, P.R.: Mainland", "HKG": "China, P.R.: Hong Kong", "MAC": "China, P.R.: Macao",
    "TWN": "Taiwan Province of China", "KOR": "Korea, Rep. of", "PRK": "Korea, Dem. People's Rep. of",
    "NLD": "Netherlands, The", "BHS": "Bahamas, The", "GMB": "Gambia, The", "IRN": "Iran, Islamic Rep. of",
    "EGY": "Egypt, Arab Rep. of", "COD": "Congo, Dem. Rep. of the", "COG": "Congo, Rep. of",
    "LAO": "Lao People's Dem. Rep.", "YEM": "Yemen, Rep. of", "VEN": "Venezuela, Rep. Bolivariana de",
    "KGZ": "Kyrgyz Rep.", "SVK": "Slovak Rep.", "CZE": "Czech Rep.", "AFG": "Afghanistan, Islamic Rep. of",
    "ARM": "Armenia, Rep. of", "ABW": "Aruba, Kingdom of the Netherlands", "AZE": "Azerbaijan, Rep. of",
    "BHR": "Bahrain, Kingdom of", "BLR": "Belarus, Rep. of", "COM": "Comoros, Union of the",
    "HRV": "Croatia, Rep. of", "CUW": "Curaçao, Kingdom of the Netherlands", "DOM": "Dominican Rep.",
    "GNQ": "Equatorial Guinea, Rep. of", "ERI": "Eritrea, The State of", "EST": "Estonia, Rep. of",
    "SWZ": "Eswatini, Kingdom of", "ETH": "Ethiopia, The Federal Dem. Rep. of", "FJI": "Fiji, Rep. of",
    "KAZ": "Kazakhstan, Rep. of", "XKX": "Kosovo, Rep. of", "LSO": "Lesotho, Kingdom of",
    "MDG": "Madagascar, Rep. of", "MHL": "Marshall Islands, Rep. of the", "MRT": "Mauritania, Islamic Rep. of",
    "FSM": "Micronesia, Federated States of", "MDA": "Moldova, Rep. of", "MOZ": "Mozambique, Rep. of",
    "NRU": "Nauru, Rep. of", "MKD": "North Macedonia, Republic of", "PLW": "Palau, Rep. of",
    "POL": "Poland, Rep. of", "SMR": "San Marino, Rep. of", "SRB": "Serbia, Rep. of",
    "SXM": "Sint Maarten, Kingdom of the Netherlands", "SVN": "Slovenia, Rep. of", "SSD": "South Sudan, Rep. of",
    "SYR": "Syrian Arab Rep.", "STP": "São Tomé and Príncipe, Dem. Rep. of", "TJK": "Tajikistan, Rep. of",
    "TZA": "Tanzania, United Rep. of", "TLS": "Timor-Leste, Dem. Rep. of", "UZB": "Uzbekistan, Rep. of",
    "CAF": "Central African Rep.", "USA": "United States", "RUS": "Russian Federation", "TUR": "Türkiye, Rep. of",
    "VNM": "Vietnam", "PSE": "West Bank and Gaza", "DDR": "Eastern Germany", "SUN": "USSR",
    "YAR": "Yemen Arab Rep.", "YMD": "Yemen, People's Dem. Rep. of", "YUG": "Yugoslavia", "CSK": "Czechoslovakia",
    "SCG": "Serbia and Montenegro", "ANT": "Netherlands Antilles", "BLX": "Belgium-Luxembourg",
    "FLK": "Falkland Islands (Malvinas)", "VAT": "Holy See", "KNA": "St. Kitts and Nevis", "LCA": "St. Lucia",
    "VCT": "St. Vincent and the Grenadines", "CPV": "Cabo Verde", "BOL": "Bolivia", "CIV": "Côte d'Ivoire",
}

# UN Comtrade reporter/partner codes that differ from M49 (Comtrade keeps pre-revision codes for some reporters).
COMTRADE = {
    "USA": "842", "IND": "699", "CHE": "757", "FRA": "251", "NOR": "579", "ITA": "381",
    # Comtrade publishes Taiwan's figures as partner 490 "Other Asia, nes"; trade analysts read it as Taiwan.
    "TWN": "490",
    "BLX": "58",
}
# Further Comtrade codes that resolve to a row of the crosswalk (former designations).
COMTRADE_EXTRA = {"736": "SDN", "280": "DEU", "711": "", "532": "ANT"}

# US Census Schedule C country codes (four digits, as in Census ``cty_code``).
CENSUS = {
    "1010": "GRL", "1220": "CAN", "2010": "MEX", "2050": "GTM", "2080": "BLZ", "2110": "SLV", "2150": "HND",
    "2190": "NIC", "2230": "CRI", "2250": "PAN", "2320": "BMU", "2360": "BHS", "2410": "JAM", "2430": "TCA",
    "2440": "CYM", "2450": "HTI", "2470": "DOM", "2481": "AIA", "2482": "VGB", "2483": "KNA", "2484": "ATG",
    "2485": "MSR", "2486": "DMA", "2487": "LCA", "2488": "VCT", "2489": "GRD", "2720": "BRB", "2740": "TTO",
    "2774": "SXM", "2777": "CUW", "2779": "ABW", "2831": "GLP", "2839": "MTQ", "3010": "COL", "3070": "VEN",
    "3120": "GUY", "3150": "SUR", "3170": "GUF", "3310": "ECU", "3330": "PER", "3350": "BOL", "3370": "CHL",
    "3510": "BRA", "3530": "PRY", "3550": "URY", "3570": "ARG", "3720": "FLK", "4000": "ISL", "4010": "SWE",
    "4031": "SJM", "4039": "NOR", "4050": "FIN", "4091": "FRO", "4099": "DNK", "4120": "GBR", "4190": "IRL",
    "4210": "NLD", "4231": "BEL", "4239": "LUX", "4271": "AND", "4272": "MCO", "4279": "FRA", "4280": "DEU",
    "4330": "AUT", "4351": "CZE", "4359": "SVK", "4370": "HUN", "4411": "LIE", "4419": "CHE", "4470": "EST",
    "4490": "LVA", "4510": "LTU", "4550": "POL", "4621": "RUS", "4622": "BLR", "4623": "UKR", "4631": "ARM",
    "4632": "AZE", "4633": "GEO", "4634": "KAZ", "4635": "KGZ", "4641": "MDA", "4642": "TJK", "4643": "TKM",
    "4644": "UZB", "4700": "ESP", "4710": "PRT", "4720": "GIB", "4730": "MLT", "4751": "SMR", "4752": "VAT",
    "4759": "ITA", "4791": "HRV", "4792": "SVN", "4793": "BIH", "4794": "MKD", "4801": "SRB", "4804": "MNE",
    "4810": "ALB", "4840": "GRC", "4850": "ROU", "4870": "BGR", "4890": "TUR", "4910": "CYP", "5020": "SYR",
    "5040": "LBN", "5050": "IRQ", "5070": "IRN", "5081": "ISR", "5110": "JOR", "5130": "KWT", "5170": "SAU",
    "5180": "QAT", "5200": "ARE", "5210": "YEM", "5230": "OMN", "5250": "BHR", "5310": "AFG", "5330": "IND",
    "5350": "PAK", "5360": "NPL", "5380": "BGD", "5420": "LKA", "5460": "MMR", "5490": "THA", "5520": "VNM",
    "5530": "LAO", "5550": "KHM", "5570": "MYS", "5590": "SGP", "5600": "IDN", "5601": "TLS", "5610": "BRN",
    "5650": "PHL", "5660": "MAC", "5682": "BTN", "5683": "MDV", "5700": "CHN", "5740": "MNG", "5800": "KOR",
    "5820": "HKG", "5830": "TWN", "5880": "JPN", "6021": "AUS", "6022": "NFK", "6023": "CCK", "6024": "CXR",
    "6040": "PNG", "6141": "NZL", "6142": "COK", "6143": "TKL", "6144": "NIU", "6150": "WSM", "6223": "SLB",
    "6224": "VUT", "6225": "PCN", "6226": "KIR", "6227": "TUV", "6412": "NCL", "6414": "PYF", "6810": "MHL",
    "6820": "FSM", "6830": "PLW", "6862": "NRU", "6863": "FJI", "6864": "TON", "7140": "MAR", "7210": "DZA",
    "7230": "TUN", "7250": "LBY", "7290": "EGY", "7321": "SDN", "7323": "SSD", "7380": "GNQ", "7410": "MRT",
    "7420": "CMR", "7440": "SEN", "7450": "MLI", "7460": "GIN", "7470": "SLE", "7480": "CIV", "7490": "GHA",
    "7500": "GMB", "7510": "NER", "7520": "TGO", "7530": "NGA", "7540": "CAF", "7550": "GAB", "7560": "TCD",
    "7580": "SHN", "7600": "BFA", "7610": "BEN", "7620": "AGO", "7630": "COG", "7642": "GNB", "7643": "CPV",
    "7644": "STP", "7650": "LBR", "7660": "COD", "7670": "BDI", "7690": "RWA", "7700": "SOM", "7741": "ERI",
    "7749": "ETH", "7770": "DJI", "7780": "UGA", "7790": "KEN", "7800": "SYC", "7830": "TZA", "7850": "MUS",
    "7870": "MOZ", "7880": "MDG", "7881": "MYT", "7890": "COM", "7904": "REU", "7910": "ZAF", "7920": "NAM",
    "7930": "BWA", "7940": "ZMB", "7950": "SWZ", "7960": "ZWE", "7970": "MWI", "7990": "LSO",
}
# Census codes that are second codes for one economy (Gaza and the West Bank are coded apart).
CENSUS_EXTRA = {"5082": "PSE", "5083": "PSE"}

NAME_ZH = {
    "CHN": "中国", "HKG": "中国香港", "MAC": "中国澳门", "TWN": "中国台湾", "USA": "美国", "JPN": "日本",
    "KOR": "韩国", "PRK": "朝鲜", "VNM": "越南", "DEU": "德国", "NLD": "荷兰", "SGP": "新加坡", "MYS": "马来西亚",
    "THA": "泰国", "MEX": "墨西哥", "IND": "印度", "GBR": "英国", "FRA": "法国", "ITA": "意大利", "CAN": "加拿大",
    "AUS": "澳大利亚", "RUS": "俄罗斯", "BRA": "巴西", "IDN": "印度尼西亚", "PHL": "菲律宾", "ARE": "阿联酋",
    "CHE": "瑞士", "BEL": "比利时", "SAU": "沙特阿拉伯", "ZAF": "南非", "ESP": "西班牙", "CHL": "智利",
    "TUR": "土耳其", "POL": "波兰", "IRQ": "伊拉克", "IRN": "伊朗", "PAK": "巴基斯坦", "BGD": "孟加拉国",
    "NGA": "尼日利亚", "EGY": "埃及", "ISR": "以色列", "PER": "秘鲁", "ARG": "阿根廷", "COL": "哥伦比亚",
    "KAZ": "哈萨克斯坦", "NZL": "新西兰", "OMN": "阿曼", "KWT": "科威特", "QAT": "卡塔尔", "AGO": "安哥拉",
    "SWE": "瑞典", "AUT": "奥地利", "DNK": "丹麦", "FIN": "芬兰", "NOR": "挪威", "IRL": "爱尔兰", "CZE": "捷克",
    "HUN": "匈牙利", "UKR": "乌克兰", "KHM": "柬埔寨", "MMR": "缅甸", "LAO": "老挝", "MNG": "蒙古",
    "PRT": "葡萄牙", "GRC": "希腊", "ROU": "罗马尼亚", "SVK": "斯洛伐克", "SVN": "斯洛文尼亚", "HRV": "克罗地亚",
    "BGR": "保加利亚", "LUX": "卢森堡", "MLT": "马耳他", "CYP": "塞浦路斯", "EST": "爱沙尼亚", "LVA": "拉脱维亚",
    "LTU": "立陶宛", "ISL": "冰岛", "PAN": "巴拿马", "ECU": "厄瓜多尔", "VEN": "委内瑞拉", "URY": "乌拉圭",
    "PRY": "巴拉圭", "BOL": "玻利维亚", "CRI": "哥斯达黎加", "GTM": "危地马拉", "CUB": "古巴", "DOM": "多米尼加",
    "LKA": "斯里兰卡", "NPL": "尼泊尔", "UZB": "乌兹别克斯坦", "KGZ": "吉尔吉斯斯坦", "TJK": "塔吉克斯坦",
    "TKM": "土库曼斯坦", "AZE": "阿塞拜疆", "GEO": "格鲁吉亚", "ARM": "亚美尼亚", "BLR": "白俄罗斯",
    "BHR": "巴林", "JOR": "约旦", "LBN": "黎巴嫩", "SYR": "叙利亚", "YEM": "也门", "AFG": "阿富汗",
    "DZA": "阿尔及利亚", "MAR": "摩洛哥", "TUN": "突尼斯", "LBY": "利比亚", "SDN": "苏丹", "ETH": "埃塞俄比亚",
    "KEN": "肯尼亚", "TZA": "坦桑尼亚", "GHA": "加纳", "CIV": "科特迪瓦", "COD": "刚果（金）", "COG": "刚果（布）",
    "ZMB": "赞比亚", "ZWE": "津巴布韦", "MOZ": "莫桑比克", "GAB": "加蓬", "GIN": "几内亚", "CMR": "喀麦隆",
    "SEN": "塞内加尔", "MDG": "马达加斯加", "MUS": "毛里求斯", "NAM": "纳米比亚", "BWA": "博茨瓦纳",
    "BRN": "文莱", "MDV": "马尔代夫", "PNG": "巴布亚新几内亚", "FJI": "斐济", "TLS": "东帝汶", "SRB": "塞尔维亚",
    "BIH": "波斯尼亚和黑塞哥维那", "MKD": "北马其顿", "ALB": "阿尔巴尼亚", "MNE": "黑山", "MDA": "摩尔多瓦",
    "LIE": "列支敦士登", "MCO": "摩纳哥", "JAM": "牙买加", "TTO": "特立尼达和多巴哥", "HND": "洪都拉斯",
    "NIC": "尼加拉瓜", "SLV": "萨尔瓦多", "HTI": "海地", "BHS": "巴哈马", "BRB": "巴巴多斯", "GUY": "圭亚那",
    "SUR": "苏里南", "BMU": "百慕大", "CYM": "开曼群岛", "VGB": "英属维尔京群岛", "MRT": "毛里塔尼亚",
    "MLI": "马里", "NER": "尼日尔", "TCD": "乍得", "BFA": "布基纳法索", "BEN": "贝宁", "TGO": "多哥",
    "SLE": "塞拉利昂", "LBR": "利比里亚", "GNQ": "赤道几内亚", "UGA": "乌干达", "RWA": "卢旺达", "BDI": "布隆迪",
    "SOM": "索马里", "DJI": "吉布提", "ERI": "厄立特里亚", "SSD": "南苏丹", "MWI": "马拉维", "LSO": "莱索托",
    "SWZ": "斯威士兰", "BTN": "不丹", "PSE": "巴勒斯坦", "GRL": "格陵兰", "SLB": "所罗门群岛", "WSM": "萨摩亚",
    "TON": "汤加", "VUT": "瓦努阿图", "KIR": "基里巴斯", "MHL": "马绍尔群岛", "FSM": "密克罗尼西亚联邦", "PLW": "帕劳",
    "NRU": "瑙鲁", "TUV": "图瓦卢", "COK": "库克群岛", "PYF": "法属波利尼西亚", "NCL": "新喀里多尼亚", "GUM": "关岛",
    "PRI": "波多黎各", "ABW": "阿鲁巴", "CUW": "库拉索", "ATG": "安提瓜和巴布达", "LCA": "圣卢西亚", "GRD": "格林纳达",
    "DMA": "多米尼克", "KNA": "圣基茨和尼维斯", "VCT": "圣文森特和格林纳丁斯", "BLZ": "伯利兹", "CPV": "佛得角",
    "STP": "圣多美和普林西比", "COM": "科摩罗", "SYC": "塞舌尔", "GMB": "冈比亚", "GNB": "几内亚比绍", "CAF": "中非",
    "ESH": "西撒哈拉", "REU": "留尼汪", "MYT": "马约特", "GIB": "直布罗陀", "AND": "安道尔", "SMR": "圣马力诺",
    "VAT": "梵蒂冈", "FRO": "法罗群岛", "XKX": "科索沃",
}
# Extra Chinese spellings (short forms used in China Customs tables).
ALIASES_ZH = {
    "香港": "HKG", "澳门": "MAC", "台湾": "TWN", "中国台北": "TWN", "台澎金马关税区": "TWN", "韩国": "KOR",
    "大韩民国": "KOR", "阿拉伯联合酋长国": "ARE", "俄罗斯联邦": "RUS", "美利坚合众国": "USA", "中华人民共和国": "CHN",
    "中国大陆": "CHN", "英国": "GBR", "联合王国": "GBR", "印尼": "IDN", "沙特": "SAU", "新西兰": "NZL",
    "刚果民主共和国": "COD", "刚果共和国": "COG", "捷克共和国": "CZE", "斯威士兰": "SWZ", "埃斯瓦蒂尼": "SWZ",
}

# English variants seen in trade sources (IMF, Comtrade, Census, SingStat, World Bank) that pycountry lacks.
ALIASES_EN = {
    "South Korea": "KOR", "Korea": "KOR", "Republic of Korea": "KOR", "Korea, South": "KOR", "Rep. of Korea": "KOR",
    "Korea, Rep.": "KOR", "Korea, Republic of": "KOR", "North Korea": "PRK", "Korea, Dem Peo Rep Of": "PRK",
    "Korea, North": "PRK", "Korea, Dem. Rep.": "PRK", "Netherlands, The": "NLD", "Holland": "NLD",
    "China, P.R.": "CHN", "Mainland China": "CHN", "China, People's Republic of": "CHN",
    "China, Hong Kong SAR": "HKG", "Hong Kong, China": "HKG", "Hong Kong SAR, China": "HKG",
    "China, Macao SAR": "MAC", "Macau": "MAC", "Macao SAR, China": "MAC", "Macao, China": "MAC",
    "Taiwan Province of China": "TWN", "Chinese Taipei": "TWN", "Taiwan, China": "TWN",
    "Separate customs territory of Taiwan, Penghu, Kinmen and Matsu": "TWN",
    "Viet Nam": "VNM", "Vietnam": "VNM", "USA": "USA", "United States of America": "USA", "U.S.": "USA",
    "US": "USA", "U.S.A.": "USA", "UK": "GBR", "Great Britain": "GBR", "Britain": "GBR",
    "Russian Federation": "RUS", "Russia": "RUS", "Türkiye": "TUR", "Turkiye": "TUR", "Turkey": "TUR",
    "Iran": "IRN", "Iran, Islamic Rep.": "IRN", "Egypt, Arab Rep.": "EGY", "Egypt": "EGY",
    "Congo, Dem. Rep.": "COD", "Congo, Democratic Republic of": "COD", "Congo, Dem Rep Of": "COD",
    "Democratic Republic of the Congo": "COD", "DR Congo": "COD", "DRC": "COD", "Zaire": "COD",
    "Congo, Rep.": "COG", "Congo, Republic of": "COG", "Congo": "COG", "Republic of the Congo": "COG",
    "Cote d'Ivoire": "CIV", "Ivory Coast": "CIV", "Bahamas": "BHS", "Gambia": "GMB", "Laos": "LAO", "Lao": "LAO",
    "Lao PDR": "LAO", "Lao People's Democratic Republic": "LAO", "Yemen": "YEM", "Yemen, Rep.": "YEM",
    "Yemen, Republic of": "YEM", "Venezuela": "VEN", "Venezuela, RB": "VEN",
    "Venezuela, Republica Bolivariana de": "VEN", "Kyrgyzstan": "KGZ", "Kyrgyz Republic": "KGZ",
    "Slovakia": "SVK", "Slovak Republic": "SVK", "Czechia": "CZE", "Czech Republic": "CZE", "Syria": "SYR",
    "Syrian Arab Republic": "SYR", "Burma": "MMR", "Macedonia": "MKD", "North Macedonia": "MKD",
    "Macedonia, FYR": "MKD", "The former Yugoslav Republic of Macedonia": "MKD", "Moldova": "MDA",
    "Rep. of Moldova": "MDA", "Tanzania": "TZA", "United Rep. of Tanzania": "TZA", "Bolivia": "BOL",
    "Bolivia (Plurinational State of)": "BOL", "Brunei": "BRN", "Cape Verde": "CPV", "Swaziland": "SWZ",
    "Eswatini": "SWZ", "East Timor": "TLS", "Micronesia": "FSM", "Micronesia, Fed. Sts.": "FSM",
    "Vatican City": "VAT", "Vatican": "VAT", "Holy See": "VAT", "Palestine": "PSE", "State of Palestine": "PSE",
    "West Bank and Gaza": "PSE", "Gaza Strip Administered by Israel": "PSE",
    "West Bank Administered by Israel": "PSE", "Falkland Islands (Islas Malvinas)": "FLK",
    "Svalbard, Jan Mayen Island": "SJM", "Svalbard and Jan Mayen Islands": "SJM", "St Helena": "SHN",
    "Saint Helena": "SHN", "St. Helena": "SHN", "Sint Maarten": "SXM", "Curacao": "CUW", "Aruba": "ABW",
    "Solomon Isds": "SLB", "Turks and Caicos Isds": "TCA", "Bosnia Herzegovina": "BIH", "Dominican Rep": "DOM",
    "Central African Republic": "CAF", "Sao Tome and Principe": "STP", "São Tomé & Príncipe": "STP",
    "Fmr Sudan": "SDN", "Reunion": "REU", "Korea, Rep Of": "KOR", "Iran, Islamic Republic of": "IRN",
    "Afghanistan, Islamic Republic of": "AFG", "Lao People's Dem. Rep.": "LAO",
    "Other Asia, nes": "TWN", "Fmr Fed. Rep. of Germany": "DEU", "Germany, West": "DEU", "West Germany": "DEU",
    "Fmr Dem. Rep. of Germany": "DDR", "German Democratic Republic": "DDR", "East Germany": "DDR",
    "Germany, East": "DDR", "Soviet Union": "SUN", "Former USSR": "SUN", "Fmr USSR": "SUN",
    "Yugoslavia, SFR": "YUG", "Fmr Yugoslavia": "YUG", "SFR of Yugoslavia": "YUG", "Serbia-Montenegro": "SCG",
    "Fmr Czechoslovakia": "CSK", "Czechoslovakia": "CSK", "Neth. Antilles": "ANT", "Fmr Arab Rep. of Yemen": "YAR",
    "Yemen Arab Republic": "YAR", "North Yemen": "YAR", "Fmr Dem. Yemen": "YMD", "South Yemen": "YMD",
    "Yemen, Democratic": "YMD", "Belgium-Luxembourg": "BLX", "Belgo-Luxembourg Economic Union": "BLX",
    "Kosovo": "XKX", "United Arab Emirates": "ARE", "UAE": "ARE", "Emirates": "ARE",
    "Trinidad And Tobago": "TTO", "Antigua And Barbuda": "ATG", "St. Vincent And The Grenadines": "VCT",
    "Saint Kitts and Nevis": "KNA", "St Kitts and Nevis": "KNA", "Saint Lucia": "LCA", "St Lucia": "LCA",
    "Saint Vincent and the Grenadines": "VCT", "St Vincent and the Grenadines": "VCT",
    "United States Virgin Islands": "VIR", "US Virgin Islands": "VIR", "Northern Mariana Islands": "MNP",
    "Korea, Democratic People's Republic of": "PRK", "Netherlands Antilles": "ANT",
    "Pitcairn Islands": "PCN",
}

# Aggregates by name: (alias, kind) with iso3 WLD for the world, NES for not-specified, "" otherwise.
WORLD_NAMES = ["World", "Total", "All partners", "All countries", "Total All Markets", "World Total",
               "全球", "世界", "总值", "合计", "All Markets"]
NES_NAMES = [
    "Areas, nes", "Areas nes", "nes", "Not specified", "Countries & Areas not specified",
    "Countries and Areas not specified", "Other countries not specified",
    "Special Categories", "Africa not specified", "Asia not specified", "Europe not specified",
    "Middle East and Central Asia not specified", "Western Hemisphere not specified", "Middle East not specified",
    "Other Markets Oceania", "Other Markets Europe", "Other Markets Asia", "Other Markets America",
    "Other Markets Africa", "Other Asia not specified", "Unspecified", "Bunkers", "Free Zones",
    "Europe nes", "Other Europe, nes", "Other Africa, nes", "Oceania nes", "Rest of America, nes",
    "North America and Central America, nes", "Western Asia, nes", "Northern Africa, nes", "Caribbean, nes",
    "Eastern Europe, nes", "LAIA, nes", "CACM, nes", "Africa CAMEU region, nes", "Special Categories, nes",
    "国别不详", "未列明",
]
AGGREGATE_NAMES = [
    # DOTS: world minus the listed countries equals the "... not specified" buckets without this residual,
    # so it double counts them and is an aggregate, not a further unallocated area
    "Other Countries not included elsewhere",
    "European Union", "EU", "EU27", "EU-27", "EU-28", "EU28", "EU27_2020", "Euro Area", "Eurozone",
    "Advanced Economies", "Emerging and Developing Economies", "Emerging Market and Developing Economies",
    "Emerging and Developing Asia", "Emerging and Developing Europe", "Sub-Saharan Africa", "Africa", "Asia",
    "Europe", "America", "Americas", "Oceania", "Middle East", "Middle East and Central Asia",
    "Middle East, North Africa, Afghanistan, and Pakistan", "Western Hemisphere",
    "Emerging Market and Developing Economies by Source of Export Earnings: Fuel",
    "Emerging Market and Developing Economies by Source of Export Earnings: Nonfuel",
    "Export earnings: fuel", "Export earnings: nonfuel", "ASEAN", "APEC", "OECD", "G7", "G20", "BRICS",
    "High income", "Low income", "Lower middle income", "Upper middle income", "Middle income",
    "Low & middle income", "Malaysia, West", "South African Common Customs Area (SACCA)",
    "So. African Customs Union", "Southern African Customs Union", "SACU", "North America", "Latin America",
    "Latin America and the Caribbean", "East Asia & Pacific", "Europe & Central Asia", "South Asia",
    "Middle East & North Africa", "CIS", "Commonwealth of Independent States", "EFTA", "NAFTA", "USMCA",
    "Mercosur", "欧盟", "东盟", "亚洲", "欧洲", "非洲", "拉丁美洲", "北美洲", "大洋洲", "亚太经济合作组织",
    "亚太经合组织", "金砖国家", "一带一路沿线国家", "区域全面经济伙伴关系协定", "RCEP", "拉美", "中东", "独联体",
    "ASIA", "EUROPEAN UNION", "Euro area", "OPEC", "Pacific Rim", "Central America", "South America",
]

# Numeric aggregate codes per system: (system, code, iso3, kind)
CODE_AGGREGATES = [
    ("comtrade", "0", "WLD", "world"), ("comtrade", "899", "NES", "nes"), ("comtrade", "97", "", "aggregate"),
    ("comtrade", "838", "NES", "nes"), ("comtrade", "837", "NES", "nes"), ("comtrade", "839", "NES", "nes"),
    ("comtrade", "492", "NES", "nes"), ("comtrade", "568", "NES", "nes"), ("comtrade", "577", "NES", "nes"),
    ("comtrade", "636", "NES", "nes"), ("comtrade", "637", "NES", "nes"), ("comtrade", "527", "NES", "nes"),
    ("comtrade", "879", "NES", "nes"), ("comtrade", "290", "NES", "nes"), ("comtrade", "129", "NES", "nes"),
    ("comtrade", "221", "NES", "nes"), ("comtrade", "473", "NES", "nes"), ("comtrade", "471", "NES", "nes"),
    ("comtrade", "472", "NES", "nes"), ("comtrade", "711", "", "aggregate"),
    ("m49", "1", "WLD", "world"), ("m49", "0", "WLD", "world"),
    ("imf", "1", "WLD", "world"), ("imf", "110", "", "aggregate"), ("imf", "163", "", "aggregate"),
    ("imf", "998", "", "aggregate"),
    ("census", "3", "", "aggregate"),
]


def _m49(c) -> str:
    return str(c.numeric).zfill(3) if getattr(c, "numeric", None) else ""


def build_countries() -> list[dict]:
    rows = []
    for c in pycountry.countries:
        iso3 = c.alpha_3
        official = getattr(c, "official_name", "") or ""
        common = getattr(c, "common_name", "") or ""
        rows.append({
            "iso3": iso3, "iso2": c.alpha_2, "m49": _m49(c),
            "name_en": NAME_EN.get(iso3, common or c.name), "name_iso": c.name, "name_official": official,
            "historic": "0",
        })
    for iso3, spec in EXTRA_ENTITIES.items():
        if spec is None:
            continue
        iso2, m49, name = spec
        rows.append({"iso3": iso3, "iso2": iso2 if iso3 not in HISTORIC else "", "m49": m49, "name_en": name,
                     "name_iso": name, "name_official": "", "historic": "1" if iso3 in HISTORIC else "0"})
    for r in rows:
        iso3 = r["iso3"]
        r["comtrade"] = COMTRADE.get(iso3, r["m49"].lstrip("0") if r["m49"] else "")
        r["imf"] = IMF.get(iso3, "")
        r["census"] = ""
        r["name_imf"] = NAME_IMF.get(iso3, "")
        r["name_zh"] = NAME_ZH.get(iso3, "")
    census_by_iso = {}
    for code, iso3 in CENSUS.items():
        census_by_iso.setdefault(iso3, code)
    for r in rows:
        r["census"] = census_by_iso.get(r["iso3"], "")
    rows.sort(key=lambda r: r["iso3"])
    known = {r["iso3"] for r in rows}
    for table in (IMF, NAME_IMF, NAME_ZH, COMTRADE, NAME_EN):
        missing = set(table) - known
        assert not missing, f"hand table names unknown ISO3 codes {sorted(missing)}"
    return rows


def build_aliases(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        for col in ("name_en", "name_iso", "name_official", "name_imf", "name_zh"):
            if r[col]:
                out.append({"alias": r[col], "iso3": r["iso3"], "kind": "country"})
    for table in (ALIASES_EN, ALIASES_ZH):
        for alias, iso3 in table.items():
            out.append({"alias": alias, "iso3": iso3, "kind": "country"})
    out += [{"alias": a, "iso3": "WLD", "kind": "world"} for a in WORLD_NAMES]
    out += [{"alias": a, "iso3": "NES", "kind": "nes"} for a in NES_NAMES]
    out += [{"alias": a, "iso3": "", "kind": "aggregate"} for a in AGGREGATE_NAMES]
    seen, unique = set(), []
    for a in out:
        key = (a["alias"], a["iso3"], a["kind"])
        if key not in seen:
            seen.add(key)
            unique.append(a)
    return unique


def build_code_aliases() -> list[dict]:
    out = [{"system": "comtrade", "code": c, "iso3": i, "kind": "country" if i else "aggregate"}
           for c, i in COMTRADE_EXTRA.items()]
    out += [{"system": "census", "code": c, "iso3": i, "kind": "country"} for c, i in CENSUS.items()]
    out += [{"system": "census", "code": c, "iso3": i, "kind": "country"} for c, i in CENSUS_EXTRA.items()]
    out += [{"system": s, "code": c, "iso3": i, "kind": k} for s, c, i, k in CODE_AGGREGATES]
    return out


def _write(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    rows = build_countries()
    _write(HERE / "countries.csv", rows, ["iso3", "iso2", "m49", "comtrade", "imf", "census", "name_en",
                                          "name_imf", "name_zh", "name_iso", "name_official", "historic"])
    _write(HERE / "aliases.csv", build_aliases(rows), ["alias", "iso3", "kind"])
    _write(HERE / "code_aliases.csv", build_code_aliases(), ["system", "code", "iso3", "kind"])


if __name__ == "__main__":
    main()
