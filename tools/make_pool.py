"""Writes src/interpret/pool.tsv: clipscope's built-in description pool for TEXTSPAN.

Each line is `description<TAB>property`. The descriptions are short image descriptions in the
style of a caption, composed from per-property vocabularies and phrasings written for clipscope
(not copied from any published pool). Deterministic: run `python3 tools/make_pool.py`.
"""
import itertools, pathlib, random

random.seed(20261127)
P = {}

def add(prop, phrases):
    P.setdefault(prop, [])
    for p in phrases:
        p = " ".join(p.split())
        if p not in P[prop]:
            P[prop].append(p)

def combos(templates, **vocab):
    keys = list(vocab)
    out = []
    for t in templates:
        used = [k for k in keys if "{" + k + "}" in t]
        for vals in itertools.product(*(vocab[k] for k in used)):
            out.append(t.format(**dict(zip(used, vals))))
    random.shuffle(out)
    return out

def take(prop, phrases, n):
    add(prop, phrases[:n])

colors = ["red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "black", "white", "grey", "turquoise", "crimson", "teal", "golden", "silver", "beige", "maroon", "lavender", "navy blue", "olive green", "magenta", "cyan", "amber"]
things = ["car", "door", "dress", "wall", "umbrella", "balloon", "flower", "bicycle", "chair", "sky", "scarf", "boat", "house", "mug", "kite", "truck", "apple", "tulip"]
take("color", combos(["a {c} {t}", "a bright {c} {t}", "{c} tones everywhere", "an image dominated by {c}", "a pale {c} background", "something painted {c}", "vivid {c} and {d} stripes"], c=colors, t=things, d=colors[:8]), 150)

textures = ["furry", "fluffy", "rough", "smooth", "glossy", "matte", "wrinkled", "cracked", "bumpy", "grainy", "silky", "velvety", "woolly", "scaly", "spiky", "slimy", "sandy", "rusty", "mossy", "frosted", "knitted", "woven", "leathery", "feathery"]
surfaces = ["surface", "texture", "fabric", "bark", "stone", "skin", "wall", "blanket", "ground"]
take("texture", combos(["a {t} {s}", "close-up of a {t} {s}", "the {t} texture of {s2}", "a {t} and {u} material"], t=textures, s=surfaces, s2=["tree bark", "old paint", "a sweater", "a lizard", "a carpet", "dry mud", "a peach", "a pine cone"], u=textures[:6]), 130)

patterns = ["striped", "checkered", "polka dot", "zigzag", "plaid", "herringbone", "paisley", "floral", "camouflage", "chevron", "houndstooth", "honeycomb", "spiral", "leopard print", "tiger stripe", "argyle", "tartan", "geometric", "mosaic", "dotted"]
take("pattern", combos(["a {p} pattern", "{p} wallpaper", "a {p} shirt", "fabric with a {p} design", "a repeating {p} motif", "{p} tiles on a floor"], p=patterns), 120)

shapes = ["circle", "square", "triangle", "star", "heart", "hexagon", "spiral", "arch", "cube", "sphere", "cone", "cylinder", "pyramid", "crescent", "oval", "diamond shape", "ring", "cross"]
take("shape", combos(["a {s}", "a large {s}", "a {s}-shaped object", "a tiny {s} on a plain background", "a row of identical {s} shapes", "an outline of a {s}", "a {c} {s}"], s=shapes, c=["wooden", "glass", "metal", "paper", "neon"]), 120)

materials = ["wood", "metal", "glass", "plastic", "stone", "marble", "concrete", "brick", "leather", "paper", "cardboard", "ceramic", "porcelain", "steel", "copper", "bronze", "rubber", "clay", "cotton", "silk", "denim", "granite", "bamboo", "wicker"]
take("material", combos(["an object made of {m}", "a {m} table", "a sculpture carved from {m}", "{m} and {n}", "a pile of {m}", "a building made of {m}"], m=materials, n=materials[:6]), 130)

numbers = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "a dozen", "many", "a few"]
countables = ["apples", "dogs", "birds", "cars", "people", "candles", "coins", "chairs", "balloons", "trees", "cups", "stars"]
take("counting", combos(["{n} {c}", "exactly {n} {c} in a row", "a group of {n} {c}", "{n} {c} on a table"], n=numbers, c=countables), 130)
take("counting", ["the number 7 written large", "a digit on a sign", "a page of numbers", "a clock face with numerals", "a house number plate", "a scoreboard with numbers", "a calendar page", "a counting chart for children"], 8)

letters = list("ABCDEFGHJKMNPRSTWXYZ")
take("text", combos(["the letter {l}", "a large letter {l} on a wall", "a sign with the word {w}", "a handwritten note", "a neon sign reading {w}", "printed text on a {o}", "a street sign with white letters", "graffiti lettering spelling {w}"], l=letters, w=["OPEN", "STOP", "SALE", "EXIT", "HOTEL", "CAFE", "LOVE", "HELLO"], o=["poster", "book cover", "label", "shop window", "t-shirt", "newspaper"]), 120)

places = ["Paris", "Tokyo", "New York", "London", "Rome", "Cairo", "Rio de Janeiro", "Sydney", "Moscow", "Istanbul", "Mumbai", "Beijing", "Mexico City", "Cape Town", "Venice", "Kyoto", "Iceland", "the Sahara", "the Alps", "the Amazon", "Scotland", "Greece", "Morocco", "Peru", "Norway", "Thailand", "India", "Egypt", "Kenya", "Canada"]
take("location", combos(["a street in {p}", "a photo taken in {p}", "a postcard from {p}", "a landmark in {p}", "traditional houses in {p}", "a market in {p}"], p=places), 150)

scenes = ["a kitchen", "a bedroom", "an office", "a classroom", "a library", "a supermarket", "a train station", "an airport", "a beach", "a forest", "a desert", "a mountain pass", "a city street", "a parking lot", "a stadium", "a church", "a hospital", "a restaurant", "a bar", "a farm", "a harbour", "a playground", "a museum", "a subway", "a living room", "a garden", "a factory", "a bridge", "a lake shore", "a cave"]
take("scene", combos(["the inside of {s}", "a view of {s}", "an empty {x}", "a crowded {x}", "a wide shot of {s}"], s=scenes, x=[s.split(" ", 1)[1] for s in scenes]), 140)

weather = ["rain", "snow", "fog", "a thunderstorm", "hail", "a rainbow", "strong wind", "a heatwave", "mist", "a blizzard", "drizzle", "storm clouds", "a tornado", "clear blue skies", "a sandstorm", "frost"]
take("weather", combos(["a street in {w}", "a landscape in {w}", "people walking in {w}", "a field under {w}", "a city during {w}", "a car driving through {w}"], w=weather), 100)

seasons = ["spring", "summer", "autumn", "winter", "fall"]
take("season", combos(["a park in {s}", "{s} leaves on the ground", "a {s} landscape", "a village in {s}", "a {s} festival", "trees in early {s}", "late {s} in the countryside", "a {s} afternoon by the river", "{s} fashion on the street", "a {s} garden", "a mountain in {s}", "a road in {s}", "children playing in {s}", "a lake in {s}", "fruit of the {s} harvest" ], s=seasons), 80)
take("season", ["cherry blossoms in bloom", "fresh spring buds", "a snowman in a front yard", "pumpkins on a porch", "red and orange fall foliage", "a sunny beach holiday", "bare trees in the cold", "a christmas tree with lights", "a field of sunflowers in summer", "ice skating on a frozen pond"], 10)

times = ["dawn", "sunrise", "morning", "noon", "afternoon", "sunset", "dusk", "twilight", "night", "midnight", "the golden hour", "the blue hour"]
take("time of day", combos(["a city at {t}", "a beach at {t}", "a quiet street at {t}", "the sky at {t}", "a harbour at {t}", "a field at {t}", "mountains at {t}", "a skyline at {t}", "a lighthouse at {t}", "a farmhouse at {t}"], t=times), 110)

lights = ["backlit", "softly lit", "harshly lit", "dimly lit", "candlelit", "neon-lit", "sunlit", "moonlit", "spotlit", "overexposed", "underexposed", "high-contrast", "low-key", "high-key", "silhouetted", "glowing"]
take("lighting", combos(["a {l} portrait", "a {l} room", "a {l} street", "a {l} scene", "a {l} figure", "a {l} object on a table"], l=lights), 95)
take("lighting", ["long shadows on a wall", "light streaming through a window", "lens flare from the sun", "a beam of light in the dark", "dappled sunlight under trees", "strong rim light", "warm lamp light"], 7)

animals = ["dog", "cat", "horse", "cow", "sheep", "goat", "pig", "lion", "tiger", "elephant", "giraffe", "zebra", "bear", "wolf", "fox", "deer", "rabbit", "squirrel", "monkey", "gorilla", "kangaroo", "koala", "panda", "camel", "hippo", "rhino", "crocodile", "snake", "turtle", "frog", "lizard", "dolphin", "whale", "shark", "octopus", "seal"]
take("animal", combos(["a {a}", "a {a} in the wild", "a close-up of a {a}", "a baby {a}", "a {a} sleeping", "a {a} running"], a=animals), 180)

birds = ["parrot", "eagle", "owl", "penguin", "flamingo", "swan", "duck", "goose", "pigeon", "sparrow", "crow", "hummingbird", "peacock", "ostrich", "pelican", "seagull", "robin", "woodpecker", "toucan", "heron", "kingfisher", "falcon"]
take("bird", combos(["a {b}", "a {b} in flight", "a {b} perched on a branch", "a flock of {b}s", "a {b} with spread wings"], b=birds), 110)

plants = ["a rose", "a sunflower", "a cactus", "a fern", "an oak tree", "a palm tree", "a pine forest", "a field of wheat", "a lotus", "an orchid", "ivy on a wall", "a bonsai", "moss on rocks", "a bamboo grove", "a meadow of wildflowers", "a weeping willow", "lavender fields", "a maple tree", "a mushroom", "seaweed", "a vineyard", "tall grass", "a tropical jungle", "a lily pond"]
take("plant", combos(["{p}", "a close-up of {p}", "{p} in the sunlight", "{p} after the rain", "a photo of {p}"], p=plants), 120)

foods = ["pizza", "sushi", "a burger", "pasta", "a salad", "soup", "bread", "a croissant", "a cake", "ice cream", "chocolate", "fruit", "a steak", "noodles", "tacos", "curry", "pancakes", "eggs", "cheese", "cookies", "a sandwich", "dumplings", "rice", "grapes", "strawberries", "a pie"]
take("food", combos(["a plate of {f}", "{f} on a wooden table", "homemade {f}", "a close-up of {f}", "{f} at a street stall", "a bowl of {f}"], f=foods), 150)

vehicles = ["a car", "a bus", "a truck", "a motorcycle", "a bicycle", "a train", "a tram", "an airplane", "a helicopter", "a sailboat", "a ship", "a canoe", "a tractor", "a scooter", "a taxi", "a fire truck", "an ambulance", "a race car", "a submarine", "a hot air balloon", "a rocket", "a vintage car"]
take("vehicle", combos(["{v} on the road", "{v} parked outside", "an old {x}", "a toy {x}", "{v} in motion", "the front of {v}"], v=vehicles, x=[v.split(" ", 1)[1] for v in vehicles]), 130)

objects = ["a lamp", "a clock", "a chair", "a sofa", "a laptop", "a phone", "a camera", "a book", "a bottle", "a cup", "a key", "a backpack", "a suitcase", "a guitar", "a piano", "a violin", "a vase", "a mirror", "a candle", "scissors", "a hammer", "a teapot", "headphones", "a television", "a globe", "an umbrella"]
take("object", combos(["{o} on a desk", "{o} on a white background", "an antique {x}", "a broken {x}", "{o} in a shop window", "a close-up of {o}"], o=objects, x=[o.split(" ", 1)[-1] for o in objects]), 150)

jobs = ["doctor", "nurse", "chef", "firefighter", "police officer", "teacher", "farmer", "pilot", "soldier", "painter", "musician", "builder", "scientist", "astronaut", "mechanic", "fisherman", "baker", "dancer", "athlete", "judge", "waiter", "photographer", "surgeon", "lifeguard"]
take("people", combos(["a {j} at work", "a portrait of a {j}", "a {j} in uniform", "a young {j}", "an elderly {j}", "a group of {j}s"], j=jobs), 140)
take("people", ["a crowd of people", "a family portrait", "a child playing", "two friends laughing", "an old man on a bench", "a woman reading", "a couple holding hands", "a baby sleeping", "teenagers at a party", "a man in a suit"], 10)

body = ["a hand", "a face", "an eye", "lips", "an ear", "a nose", "feet", "fingers", "a shoulder", "hair", "a knee", "teeth", "an arm", "a back", "a palm", "eyebrows", "freckled skin", "a beard"]
take("body part", combos(["a close-up of {b}", "{b} in soft light", "a photo of {b}", "{b} with a tattoo", "a detailed view of {b}"], b=body), 90)

emotions = ["happy", "sad", "angry", "surprised", "scared", "bored", "excited", "calm", "confused", "proud", "tired", "disgusted", "laughing", "crying", "smiling", "frowning", "shocked", "worried"]
take("emotion", combos(["a {e} face", "a {e} child", "a {e} woman", "a {e} man", "a {e} crowd", "a {e} dog"], e=emotions), 105)

clothes = ["a hat", "a jacket", "a dress", "jeans", "sneakers", "a suit", "a scarf", "gloves", "boots", "a hoodie", "a uniform", "a kimono", "a raincoat", "sunglasses", "a tie", "a swimsuit", "a wedding dress", "a sweater", "a skirt", "a leather jacket"]
take("clothing", combos(["a person wearing {c}", "{c} on a hanger", "a model in {c}", "a child wearing {c}", "{c} in a store display", "a pile of {c2}"], c=clothes, c2=["shirts", "socks", "jackets", "shoes", "hats", "dresses"]), 130)

styles = ["an oil painting", "a watercolor", "a pencil sketch", "a charcoal drawing", "a cartoon", "an anime illustration", "a comic strip", "pixel art", "a mosaic", "a stained glass window", "a woodcut print", "a pop art poster", "an impressionist painting", "a cubist painting", "a surrealist painting", "a renaissance fresco", "a 3D render", "a vector illustration", "graffiti", "an ink drawing", "a children's drawing", "a low poly model", "a collage", "a sculpture"]
take("art style", combos(["{s} of a {t}", "{s}", "{s} in muted colors", "an abstract piece, {s}"], s=styles, t=["landscape", "portrait", "city", "cat", "ship", "still life"]), 150)

photo = ["an aerial view", "a bird's eye view", "a close-up shot", "a macro photo", "a wide-angle photo", "a fisheye photo", "a long exposure", "a black and white photo", "a blurry photo", "a photo with shallow depth of field", "a tilt-shift photo", "a panoramic photo", "a low-angle shot", "a selfie", "a polaroid", "an infrared photo", "a motion-blurred photo", "a grainy film photo", "a symmetrical composition", "a photo taken from underwater", "a satellite image", "a security camera still", "a vintage photograph", "an HDR photo"]
take("photography", combos(["{p}", "{p} of a {t}"], p=photo, t=["street", "building", "person", "forest", "car", "coastline"]), 150)

architecture = ["a skyscraper", "a castle", "a cathedral", "a temple", "a mosque", "a pagoda", "a lighthouse", "a windmill", "a cottage", "a log cabin", "a palace", "a ruin", "an apartment block", "a barn", "a tower", "a dome", "a colonnade", "a stone bridge"]
take("architecture", combos(["{a}", "{a} at the end of a road", "the facade of {a}", "an old {x}", "a modern {x}"], a=architecture, x=[a.split(" ", 1)[1] for a in architecture]), 90)

sports = ["football", "basketball", "tennis", "golf", "swimming", "skiing", "surfing", "boxing", "cycling", "running", "baseball", "volleyball", "ice hockey", "rock climbing", "skateboarding", "yoga", "gymnastics", "rowing"]
take("sport", combos(["people playing {s}", "a {s} match", "an athlete {v}", "{s} equipment", "a {s} competition"], s=sports, v=["jumping", "sprinting", "diving", "celebrating a goal"]), 90)

water = ["the ocean", "a river", "a waterfall", "a lake", "a pond", "waves", "a beach", "a glacier", "an iceberg", "a coral reef", "a canal", "a fountain", "rain puddles", "a swimming pool", "a stream", "a bay"]
take("water", combos(["{w}", "a view of {w}", "{w} at sunset", "calm {w}", "{w} in a storm"], w=water), 80)

tech = ["a computer screen", "a circuit board", "a robot", "a smartphone", "a server room", "a drone", "a 3D printer", "a satellite dish", "a keyboard", "a video game console", "a virtual reality headset", "a microchip", "solar panels", "a wind turbine", "an electric car charger"]
take("technology", combos(["{t}", "a close-up of {t}", "{t} in a lab", "an old {x}", "a futuristic {x}"], t=tech, x=[t.split(" ", 1)[1] for t in tech]), 75)

music = ["a guitarist on stage", "a drum kit", "a grand piano", "an orchestra", "a jazz band", "a DJ at a party", "a choir singing", "sheet music", "a saxophone", "a violinist", "a rock concert crowd", "headphones and vinyl records", "a street musician", "a trumpet", "a cello", "a music festival"]
take("music", combos(["{m}", "a photo of {m}", "{m} under stage lights"], m=music), 48)

out = pathlib.Path(__file__).resolve().parent.parent / "src/interpret/pool.tsv"
import re
# Words after which a/an goes by sound, not by letter.
AN_BY_SOUND = ("hdr", "hour", "honest", "heir", "led ", "mri", "x-ray", "fbi", "nba")
A_BY_SOUND = ("one", "uni", "use", "usu", "eu", "ufo", "ukulele")
STARTERS_BEFORE_ARTICLE = set()  # no description begins "<word> a …" ("homemade a pie")

def article(d):
    """Well-written English for a composed description: an adjective that a template put before
    an article moves after it ("homemade a pie" -> "a homemade pie"), "exactly" goes with numbers
    only, and a/an follow the sound of the next word."""
    d = re.sub(r"^exactly (a few|a dozen|many) ", r"\1 ", d)
    m = re.match(r"^([a-z-]+) (a|an|the) (.*)$", d)
    if m and m.group(1) not in STARTERS_BEFORE_ARTICLE:
        d = f"{m.group(2)} {m.group(1)} {m.group(3)}"
    def fix(m):
        word = m.group(2)
        w = word.lower()
        vowel = w[0] in "aeiou"
        if w.startswith(A_BY_SOUND):
            vowel = False
        if w.startswith(AN_BY_SOUND) or (word.isupper() and w[0] in "aefhilmnorsx"):
            vowel = True
        return m.group(1) + ("an " if vowel else "a ") + word
    return re.sub(r"(^|\s)(?:a|an) ([A-Za-z][\w-]*)", fix, d)

lines = [f"{article(d)}\t{p}" for p, ds in P.items() for d in ds]
seen = set(); uniq = []
for l in lines:
    k = l.split("\t")[0].lower()
    if k not in seen:
        seen.add(k); uniq.append(l)
out.write_text("\n".join(uniq) + "\n")
print(len(uniq), "descriptions in", len(P), "properties:", {p: sum(1 for l in uniq if l.endswith('\t' + p)) for p in P})
