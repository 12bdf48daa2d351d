"""Word lists the prompt reader needs beyond GenEval's vocabulary: what a noun is *for* in a prompt.

With an open vocabulary every noun could be something to draw, so the reader has to tell the
objects of a scene from the words around them: the setting ("on a flat surface", "in a park"),
the frame ("a photo", "the sketch"), parts of an object ("four sturdy legs", "its handle"),
materials ("dark oak", "brushed steel") and abstractions ("a sense of calm"). spaCy supplies the
part of speech and the attachments; these lists supply the meaning it does not have (the small
English model carries no word vectors). Lists are of lemmas (singular, lower case).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The frame and the studio's own vocabulary: never an object ("Keep the sketch as it is").
META = _words("""
photo photograph picture image pic shot snapshot illustration rendering render painting drawing sketch
depiction portrait scene view composition frame canvas prompt plan instruction description everything
something anything nothing thing object item one ones kind type sort style version detail details
number amount count lot lots plenty variety bunch pair couple dozen group set collection row pile stack
herd flock pack team crowd array assortment handful few several color colour colors colours shade hue
tone tint finish texture pattern shape size form design look appearance feel mood atmosphere vibe air
sense touch hint feeling warmth charm elegance beauty glow contrast focus emphasis quality realism
resolution lighting light sunlight daylight moonlight shadow shadows reflection highlight highlights
sort way manner fashion side left right top bottom middle center centre front back rear corner edge
area space spot place position location distance direction foreground midground background backdrop
setting surroundings environment landscape scenery horizon sky cloud clouds weather day night morning
evening afternoon sunset sunrise dusk dawn time moment season summer winter spring autumn fall
surface floor ground wall ceiling room interior exterior outdoors indoors kitchen bedroom bathroom
office studio garden park yard backyard field meadow grass lawn forest woods street road sidewalk path
city town village beach sea ocean water lake river shore sand snow mountain hill valley desert
countryside farm market shop store restaurant cafe house home building window windows counter
countertop tabletop shelf desk nook alcove windowsill sill ledge mantel mantelpiece stage platform
display setup arrangement tableau still life
workspace workplace station terminal platform savanna savannah plains pasture
restroom washroom lavatory salon lobby hallway corridor bakery study den library classroom gym hotel garage barn
harbor harbour port dock pier marina porch patio balcony terrace courtyard plaza square alley lane trail slope run
rink court pitch arena stadium paddock prairie jungle cave cliff riverbank lakeside seaside shoreline
interview game festival party meeting celebration event occasion trip journey walk ride search hum noise sound
silence music song songs buzz step steps pace paces pond puddle pool hole stream creek waterfall sight
meter meters metre metres foot feet inch inches yard yards mile miles centimeter centimeters minute minutes second
seconds hour hours fire flame flames smoke steam mist fog haze rain raindrop raindrops dust mud foam spray splash
ripple ripples wave waves breeze wind
installation poster collage café pavement kerb curb highway motorway roadside tarmac worktop
close closeup angle subject centerpiece patch piece slice bit strip sheet layer cluster perspective
camera lens bokeh blur depth field artwork art piece work
""")

# Parts and coverings of an object: described with it, never drawn as objects of their own.
PARTS = _words("""
leg legs wheel wheels handle handles blade blades screen display keys key button buttons door doors
roof tail ear ears eye eyes nose mouth head face body arm arms hand hands foot feet paw paws fur coat
wing wings beak feather feathers seat seats backrest armrest armrests cushion cushions lid spout rim
base stem stems leaf leaves petal petals strap straps zipper pocket pockets sleeve collar horn horns
mane hoof hooves tire tires tyre tyres engine sail sails mast hull deck string strings grip bristle
bristles cord cable plug knob knobs dial dials crust topping toppings sauce cheese frosting icing
sprinkles slot slots drawer drawers panel panels lens lenses bumper headlight headlights trunk spokes
pedal pedals chain saddle frame frames skin shell scales whisker whiskers claw claws hood sole laces
buckle label logo sticker stickers text lettering trim edges corners stripe stripes spots dots
outline outlines contour contours shading strokes stroke brushstrokes tip tips end ends top bottom
screw screws bolt bolts nail nails rivet rivets hinge hinges joint joints seam seams
fender fenders handlebar handlebars bristle keycap keycaps clasp florets floret peel rind tank casing housing
canopy upholstery spine spines
""")

# What is worn: "a man in a black suit" is the suit worn by the man; "a woman in a grey coat" wears
# it (a coat said of an animal, "its patterned coat", stays its covering).
CLOTHES = _words("""coat jacket suit dress shirt hat cap scarf sweater hoodie helmet glasses sunglasses boots
shoes gloves tie backpack uniform gown robe apron vest skirt jeans raincoat beanie cloak cape overcoat
blazer cardigan jumper sweatshirt tshirt trousers pants shorts sneakers sandals mittens bonnet beret""")
# Qualities, light and time: said of a scene or an object, never an object, a part or the ground
# ("The alignment of the stems is perfect", "the petals have a soft sheen").
ABSTRACT = _words("""alignment arrangement sheen shine gleam glint luster lustre sparkle glow light sunlight
daylight moonlight lighting shadow shadows shade reflection reflections highlight highlights texture pattern
finish look appearance feel mood atmosphere vibe sense hint feeling warmth charm elegance beauty contrast
focus emphasis quality balance symmetry harmony background foreground distance middle center centre corner
edge side left right top bottom front back rear way time moment day night morning evening afternoon sunset
sunrise dusk dawn air weather age angle perspective view detail details""")
# Verbs of wearing: "He wears a hat", "a boy sporting a cap".
WEAR_VERBS = _words("wear don sport")
# Pronouns for a person said before: "She holds a red umbrella".
PERSONAL = _words("he she they him her them")
# What a picture is of: "The picture shows a snowman" shows an object, not a detail of the picture.
FRAMES = _words("""photo photograph picture image pic shot snapshot illustration rendering render painting
drawing sketch depiction portrait scene view composition frame canvas artwork comic cartoon poster""")
# What holds things inside it rather than in a hand: "a cat inside a wooden crate" is in the crate.
CONTAINERS = _words("""vase bowl cup box basket bag jar bottle pot bucket crate tray glass wine glass mug
cage nest drawer barrel bin sack chest carton tin can pan tub bathtub case suitcase backpack handbag
pail trough hamper bag jug pitcher kettle teapot sink oven microwave refrigerator""")
# Buildings and fixtures a thing stands in front of or behind as drawn objects ("in front of a red
# barn", "behind a fence"), though "in a barn" is where a scene happens.
STRUCTURES = _words("""house home building barn cabin cottage hut shed tent fence gate door doorway shop
store cafe café restaurant garage castle tower lighthouse church temple""")

# Parts whose colour is the object's colour: "a cat with purple fur" is a purple cat.
COVERINGS = _words(
    "fur coat body skin paint finish shell feathers plumage foliage hide exterior surface color colour hue shade tone"
    " wool fleece"
)

# What things are made of: "crafted from dark oak", "a glass of water" aside.
MATERIALS = _words("""
wood oak pine walnut maple mahogany teak cedar birch steel metal iron aluminum aluminium tin chrome
plastic glass leather fabric cloth cotton wool linen silk velvet denim canvas ceramic porcelain clay
stone marble granite concrete brick rubber paper cardboard gold silver bronze copper brass bamboo
wicker rattan straw cork resin vinyl nylon polyester foam wax
""")

# A known class word that is a part when its owner is in the prompt: a skateboard's trucks.
PART_OF = {"truck": {"skateboard"}, "computer keyboard": {"laptop"}, "tie": {"suitcase"}}

# Collective nouns: "a herd of three cows" counts three; "a herd of cows" several.
COLLECTIVES = _words("""group herd flock pack set row pile stack bunch collection team crowd handful family trio
line cluster heap litter colony fleet convoy school pod troop swarm gaggle""")
# The body of an object, whose colour is the object's: "The deck is a bold pink", "its peel is black".
BODY = COVERINGS | _words("""peel rind frame deck case casing housing pot planter florets floret tank bodywork
upholstery canopy glaze icing frosting enamel hull""")

# The part that gives an object its colour: "a laptop with a red lid" is a red laptop.
DEFINING_PARTS = {
    "laptop": _words("lid case shell"),
    "book": _words("cover covers jacket binding"),
    "sink": _words("basin bowl"),
    "pizza": _words("crust cheese sauce"),
    "knife": _words("handle"),
    "zebra": _words("stripes"),
    "scissors": _words("handle handles"),
    "tennis racket": _words("frame head"),
    "umbrella": _words("canopy"),
    "suitcase": _words("shell"),
    "bicycle": _words("frame"),
    "motorcycle": _words("frame tank"),
    "toothbrush": _words("handle"),
    "computer mouse": _words("shell casing"),
    "cell phone": _words("case"),
    "skateboard": _words("deck"),
    "surfboard": _words("deck"),
    "kite": _words("sail"),
}
# Units a known class is counted in: "four heads of broccoli".
COUNT_UNITS = _words("heads loaves")
# Words that put a colour after its noun: "colored purple", "painted in a deep red", "in green".
COLOR_VERBS = _words("""colored coloured painted dyed tinted stained glazed lacquered done rendered anodized anodised
coated finished enameled enamelled upholstered sprayed dipped turned""")
# Colour words that name none of GenEval's ten: never a colour of the scene, never a thing either.
OTHER_COLORS = _words("gray grey silver silvery charcoal slate")
# Words for kinds of things: in a description they sum up the objects named with them ("Two vehicles: a bike and ...").
CATEGORIES = _words("""vehicle vehicles animal animals creature creatures pet pets appliance appliances device devices
gadget gadgets utensil utensils furniture food foods fruit fruits vegetable vegetables item items belongings""")
# "made of warm brown wood": a colour said with the material of the object.
MADE = _words("made crafted carved built shaped formed fashioned constructed cast molded moulded")
COLOR_NOUNS = COVERINGS | _words(
    "color colour colors colours hue shade tone tint finish paint paintwork"
)
SHADE_WORDS = _words("""light dark deep bright pale vivid vibrant rich soft pastel muted bold brilliant
pure solid glossy matte shiny neon dull warm cool intense burnt burned""")
BE = _words("is are was were be been being 's 're seems seem looks look appears appear")
DEGREE = _words(
    "all entirely completely mostly fully totally wholly uniformly mainly predominantly also both each"
)
# Young of an animal, after its class: "a bear cub" is a bear.
YOUNG = _words("cub cubs calf calves foal foals pup pups chick chicks joey hatchling baby babies")

# Colour names beyond GenEval's ten, read as the nearest of the ten.
COLOR_SYNONYMS = {
    "violet": "purple",
    "lavender": "purple",
    "lilac": "purple",
    "magenta": "purple",
    "plum": "purple",
    "scarlet": "red",
    "crimson": "red",
    "maroon": "red",
    "ruby": "red",
    "cherry": "red",
    "navy": "blue",
    "azure": "blue",
    "cobalt": "blue",
    "cyan": "blue",
    "teal": "blue",
    "turquoise": "blue",
    "golden": "yellow",
    "gold": "yellow",
    "lemon": "yellow",
    "mustard": "yellow",
    "emerald": "green",
    "lime": "green",
    "olive": "green",
    "jade": "green",
    "beige": "brown",
    "tan": "brown",
    "chocolate": "brown",
    "chestnut": "brown",
    "walnut": "brown",
    "mahogany": "brown",
    "bronze": "brown",
    "ivory": "white",
    "snowy": "white",
    "cream": "white",
    "ebony": "black",
    "rose": "pink",
    "salmon": "pink",
    "fuchsia": "pink",
    "coral": "pink",
}
# Those that are ordinary words too, read as colours only right before a noun or after "colored".
WEAK_COLORS = {
    "gold",
    "golden",  # "Its crust is golden": baked, not coloured
    "lemon",
    "rose",
    "cherry",
    "olive",
    "lime",
    "chocolate",
    "chestnut",
    "walnut",
    "mahogany",
    "cream",
    "jet",
    "tan",
    "plum",
    "salmon",
    "coral",
    "jade",
    "ruby",
    "mustard",
    "bronze",
}

# Kinds whose name begins with a colour word that says nothing of this one's colour ("a golden
# retriever" is a breed; "a red panda", "a black widow" are species), read without that colour.
COLOR_NAMED_KINDS = frozenset(
    {
        "golden retriever",
        "golden retrievers",
        "golden eagle",
        "golden eagles",
        "red panda",
        "red pandas",
        "black widow",
        "black widows",
    }
)

# Verbs of sitting on something else: "perched on its back" is on the thing "its" names, where
# "stands on its end" or "sits on its haunches" is the subject's own posture.
ON_ANOTHER = _words("perch roost land ride nest")

NEGATIONS = _words("no without not nor never none")
# Words for spatial relations the scene graph has no relation for: noted, not placed.
OTHER_PLACES = ("among", "around", "opposite", "by")
PRONOUNS = _words("it its them their itself themselves")
# Where on something: "on the back of a chair", "at the top of a ramp" name a place, not an object.
PLACE_PARTS = _words(
    "back top edge side corner middle center centre front bottom foot base end rim surface"
)
# Known classes that are mostly where a description puts things ("sits on a wooden table"): in a
# description, said after one of these prepositions, they are the setting unless described again.
SURFACES = frozenset({"dining table", "bench", "bed", "couch", "chair"})
SURFACE_PREPS = _words("on upon onto across against at along atop in")
# Prepositions whose object is where something is, in a description ("around a fountain").
SETTING_PREPS = _words("""on in at against across upon inside into onto through near beside by over
under beneath underneath around along toward towards from between past beyond among amid within
throughout down up alongside""")
# Verbs that make their subject an accessory of what follows: "a basket is attached to its handlebars".
ATTACHED = _words(
    "attached fixed mounted fastened clipped strapped tied hooked bolted glued pinned sewn stitched"
)
# Verbs that open a description by asking for the scene: "Imagine a ski chalet after a long day."
SCENE_VERBS = _words("imagine picture envision envisage visualize visualise")
# Imperatives of plan and refine texts, which the tagger sometimes reads as names ("Recolor the cup").
IMPERATIVES = _words("""recolor recolour move add remove delete draw make paint change turn put place keep erase
shift relocate insert include create set replace swap redraw fix""")
